package billing

import (
	"embed"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"

	stripe "github.com/stripe/stripe-go/v76"
)

// metadataPlanKey is the Checkout Session (and subscription) metadata key
// naming the plan bought.
const metadataPlanKey = "meet_plan"

// maxCheckoutBody caps POST /api/checkout; the request is {"plan":"id"}.
const maxCheckoutBody = 4 << 10

// Stripe Checkout Session ids: "cs_" then letters, digits and underscores.
var checkoutSessionID = regexp.MustCompile(`^cs_[A-Za-z0-9_]{1,250}$`)

//go:embed static
var staticFiles embed.FS

// Register adds the billing routes to mux. Pages are self-contained (their
// script and style are files served here) because the CSP is
// default-src 'self'.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/plans", s.handlePlans)
	mux.HandleFunc("POST /api/checkout", s.handleCheckout)
	mux.HandleFunc("POST /api/stripe/webhook", s.handleWebhook)
	mux.HandleFunc("GET /api/checkout/result", s.handleCheckoutResult)
	mux.Handle("GET /billing/success", staticPage("static/success.html", true))
	mux.Handle("GET /billing/cancel", staticPage("static/cancel.html", false))
	mux.Handle("GET /billing/billing.js", staticPage("static/billing.js", false))
	mux.Handle("GET /billing/billing.css", staticPage("static/billing.css", false))
}

// planView is the public JSON form of a Plan; price ids stay server-side.
type planView struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	Paid               bool   `json:"paid"`
	MaxParticipants    int    `json:"max_participants"`
	MaxDurationSeconds int64  `json:"max_duration_seconds"`
	DisplayPrice       string `json:"display_price"`
}

type plansResponse struct {
	Billing bool       `json:"billing"`
	Plans   []planView `json:"plans"`
}

func (s *Service) handlePlans(w http.ResponseWriter, _ *http.Request) {
	resp := plansResponse{Billing: s.enabled, Plans: []planView{}}
	for _, p := range s.plans {
		resp.Plans = append(resp.Plans, planView{
			ID: p.ID, Name: p.Name, Paid: p.Paid,
			MaxParticipants: p.MaxParticipants, MaxDurationSeconds: int64(p.MaxDuration.Seconds()),
			DisplayPrice: p.DisplayPrice,
		})
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Service) handleCheckout(w http.ResponseWriter, r *http.Request) {
	if !s.enabled {
		writeError(w, http.StatusServiceUnavailable, ErrBillingDisabled.Error())
		return
	}
	var req struct {
		Plan string `json:"plan"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCheckoutBody))
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `body must be JSON like {"plan":"pro"}`)
		return
	}
	p, ok := s.Plan(req.Plan)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown plan; GET /api/plans lists the plans on offer")
		return
	}
	if !p.Paid {
		writeError(w, http.StatusBadRequest, "the free plan needs no checkout")
		return
	}
	url, err := s.createCheckout(r, p)
	if err != nil {
		s.log.Error("checkout session not created", "plan", p.ID, "err", logErr{err})
		writeError(w, http.StatusBadGateway, ErrStripeUnavailable.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"url": url})
}

func (s *Service) createCheckout(r *http.Request, p Plan) (string, error) {
	items := []*stripe.CheckoutSessionLineItemParams{{Price: stripe.String(p.PriceID), Quantity: stripe.Int64(1)}}
	if p.MeteredPriceID != "" {
		// Metered prices take no quantity; usage records fill them.
		items = append(items, &stripe.CheckoutSessionLineItemParams{Price: stripe.String(p.MeteredPriceID)})
	}
	params := &stripe.CheckoutSessionParams{
		Mode:       stripe.String(string(stripe.CheckoutSessionModeSubscription)),
		LineItems:  items,
		SuccessURL: stripe.String(s.cfg.PublicURL + "/billing/success?session_id={CHECKOUT_SESSION_ID}"),
		CancelURL:  stripe.String(s.cfg.PublicURL + "/billing/cancel"),
		Metadata:   map[string]string{metadataPlanKey: p.ID},
		SubscriptionData: &stripe.CheckoutSessionSubscriptionDataParams{
			Metadata: map[string]string{metadataPlanKey: p.ID},
		},
	}
	params.Context = r.Context()
	cs, err := s.api.CheckoutSessions.New(params)
	if err != nil {
		return "", stripeErr(err)
	}
	if cs.URL == "" {
		return "", errors.New("billing: Stripe returned a checkout session without URL")
	}
	return cs.URL, nil
}

type checkoutResult struct {
	Status string `json:"status"`           // "complete" or Stripe's session status
	Code   string `json:"code,omitempty"`   // the access code, once complete
	Plan   string `json:"plan,omitempty"`   // plan name
	Mailed bool   `json:"mailed,omitempty"` // a copy goes to the buyer's e-mail
	Error  string `json:"error,omitempty"`
}

// handleCheckoutResult lets the success page show the access code. The
// Checkout Session id is a long random value that only the buyer's browser
// received (in the success URL), which is what makes it fit to fetch the
// code with.
func (s *Service) handleCheckoutResult(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !s.enabled {
		writeError(w, http.StatusServiceUnavailable, ErrBillingDisabled.Error())
		return
	}
	id := r.URL.Query().Get("session_id")
	if !checkoutSessionID.MatchString(id) {
		writeError(w, http.StatusBadRequest, "session_id missing or malformed")
		return
	}
	params := &stripe.CheckoutSessionParams{}
	params.Context = r.Context()
	cs, err := s.api.CheckoutSessions.Get(id, params)
	if err != nil {
		var se *stripe.Error
		if errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound {
			writeError(w, http.StatusNotFound, "no such checkout session")
			return
		}
		s.log.Error("checkout session lookup failed", "err", logErr{err})
		writeError(w, http.StatusBadGateway, ErrStripeUnavailable.Error())
		return
	}
	if cs.Status != stripe.CheckoutSessionStatusComplete || cs.Customer == nil || cs.Customer.ID == "" {
		writeJSON(w, http.StatusConflict, checkoutResult{Status: string(cs.Status), Error: "payment not completed yet"})
		return
	}
	p, _ := s.Plan(cs.Metadata[metadataPlanKey])
	code, err := s.IssueAccessCode(cs.Customer.ID, p.ID)
	if err != nil {
		writeError(w, http.StatusNotFound, "this checkout was for a plan this server no longer offers")
		return
	}
	mailed := s.mail != nil && cs.CustomerDetails != nil && cs.CustomerDetails.Email != ""
	writeJSON(w, http.StatusOK, checkoutResult{Status: "complete", Code: code, Plan: p.Name, Mailed: mailed})
}

func staticPage(name string, noStore bool) http.Handler {
	body, err := staticFiles.ReadFile(name)
	if err != nil {
		panic("billing: embedded file missing: " + name) // caught by tests; the embed pattern covers it
	}
	ctype := "text/html; charset=utf-8"
	switch {
	case strings.HasSuffix(name, ".js"):
		ctype = "text/javascript; charset=utf-8"
	case strings.HasSuffix(name, ".css"):
		ctype = "text/css; charset=utf-8"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("X-Content-Type-Options", "nosniff")
		// The success URL carries the session id; keep it out of Referer.
		h.Set("Referrer-Policy", "no-referrer")
		if noStore {
			h.Set("Cache-Control", "no-store")
		}
		_, _ = w.Write(body)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
