package billing

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultPlans(t *testing.T) {
	plans := DefaultPlans()
	if len(plans) != 2 {
		t.Fatalf("got %d default plans, want free + pro", len(plans))
	}
	free, pro := plans[0], plans[1]
	if free.ID != "free" || free.Paid || free.MaxParticipants != 8 || free.MaxDuration != 60*time.Minute {
		t.Errorf("free plan = %+v", free)
	}
	if pro.ID != "pro" || !pro.Paid || pro.PriceID != "" || pro.MaxParticipants <= free.MaxParticipants || pro.MaxDuration <= free.MaxDuration {
		t.Errorf("pro plan = %+v", pro)
	}
	if err := validatePlans(plans, false); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	plans[0].Name = "changed"
	if DefaultPlans()[0].Name != "Free" {
		t.Error("DefaultPlans returns shared state")
	}
}

func TestParsePlans(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		wantErr bool
		check   func(t *testing.T, p []Plan)
	}{
		{name: "empty is defaults", spec: "", check: func(t *testing.T, p []Plan) {
			if len(p) != 2 || p[1].PriceID != "" {
				t.Errorf("%+v", p)
			}
		}},
		{name: "prices merge into pro", spec: `[{"id":"pro","price_id":"price_a","metered_price_id":"price_b"}]`, check: func(t *testing.T, p []Plan) {
			if len(p) != 2 || p[1].PriceID != "price_a" || p[1].MeteredPriceID != "price_b" || p[1].MaxParticipants != ProMaxParticipants {
				t.Errorf("%+v", p[1])
			}
		}},
		{name: "free limits override", spec: `[{"id":"free","max_participants":4,"max_duration":"40m"}]`, check: func(t *testing.T, p []Plan) {
			if p[0].MaxParticipants != 4 || p[0].MaxDuration != 40*time.Minute || p[0].Name != "Free" {
				t.Errorf("%+v", p[0])
			}
		}},
		{name: "new plan appended", spec: `[{"id":"team","name":"Team","paid":true,"max_participants":100,"max_duration":"12h","price_id":"price_t"}]`, check: func(t *testing.T, p []Plan) {
			if len(p) != 3 || p[2].ID != "team" || !p[2].Paid || p[2].MaxDuration != 12*time.Hour {
				t.Errorf("%+v", p)
			}
		}},
		{name: "not json", spec: `pro=price_a`, wantErr: true},
		{name: "bad duration", spec: `[{"id":"pro","max_duration":"forever"}]`, wantErr: true},
		{name: "new plan without name", spec: `[{"id":"team"}]`, wantErr: true},
		{name: "bad id", spec: `[{"id":"Team Plan","name":"x"}]`, wantErr: true},
		{name: "no free plan left", spec: `[{"id":"free","paid":true}]`, wantErr: true},
		{name: "negative limit", spec: `[{"id":"free","max_participants":-1}]`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePlans(tc.spec)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
}

func TestNewValidatesConfig(t *testing.T) {
	priced := DefaultPlans()
	priced[1].PriceID = "price_a"
	good := func() Config {
		return Config{StripeKey: "sk_test_x", WebhookSecret: "whsec_x", Plans: priced, PublicURL: "https://meet.example.com", CodeSecret: testCodeSecret}
	}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string // substring; "" = must succeed
	}{
		{"billing off needs nothing", func(c *Config) { *c = Config{} }, ""},
		{"billing on, complete", func(*Config) {}, ""},
		{"with mail", func(c *Config) { c.SMTPURL, c.MailFrom = "smtp://u:p@mail.example.com", "Meet <meet@example.com>" }, ""},
		{"no webhook secret", func(c *Config) { c.WebhookSecret = "" }, "MEET_STRIPE_WEBHOOK_SECRET"},
		{"short code secret", func(c *Config) { c.CodeSecret = []byte("short") }, "CodeSecret"},
		{"relative public URL", func(c *Config) { c.PublicURL = "/meet" }, "PublicURL"},
		{"paid plan without price", func(c *Config) { c.Plans = DefaultPlans() }, "price"},
		{"bad smtp scheme", func(c *Config) { c.SMTPURL, c.MailFrom = "http://mail", "a@b.c" }, "smtp://"},
		{"mail without from", func(c *Config) { c.SMTPURL = "smtps://mail.example.com" }, "MailFrom"},
		{"header injection in from", func(c *Config) { c.SMTPURL, c.MailFrom = "smtps://mail.example.com", "a@b.c\r\nBcc: x@y.z" }, "MailFrom"},
		{"tiny flush interval", func(c *Config) { c.FlushInterval = time.Millisecond }, "FlushInterval"},
		{"bad backend URL", func(c *Config) { c.StripeBackendURL = "localhost" }, "StripeBackendURL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.mod(&cfg)
			s, err := New(cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if s.Enabled() != (cfg.StripeKey != "") {
					t.Fatalf("Enabled() = %v", s.Enabled())
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want ErrInvalidConfig mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestBillingOffOffersOnlyFreePlans(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Plan("pro"); ok {
		t.Error("paid plan offered with billing off")
	}
	if p, ok := s.Plan("free"); !ok || p.MaxParticipants != FreeMaxParticipants {
		t.Errorf("free plan = %+v, %v", p, ok)
	}
	if s.FreePlan().ID != "free" {
		t.Errorf("FreePlan = %+v", s.FreePlan())
	}
	if _, err := s.Entitlement(t.Context(), "anything"); !errors.Is(err, ErrBillingDisabled) {
		t.Errorf("Entitlement err = %v", err)
	}
	if _, err := s.IssueAccessCode("cus_x", "pro"); !errors.Is(err, ErrBillingDisabled) {
		t.Errorf("IssueAccessCode err = %v", err)
	}
}

func TestEventSetIsBounded(t *testing.T) {
	s := newEventSet(3)
	for _, id := range []string{"a", "b", "c"} {
		if !s.add(id) {
			t.Fatalf("add(%q) not new", id)
		}
	}
	if s.add("b") {
		t.Fatal("duplicate b accepted")
	}
	s.add("d") // evicts a
	if s.len() != 3 {
		t.Fatalf("len = %d, want 3", s.len())
	}
	if !s.add("a") {
		t.Fatal("a should have been evicted")
	}
	if s.add("d") {
		t.Fatal("d forgotten too early")
	}
	s.remove("d")
	if !s.add("d") {
		t.Fatal("removed id not accepted again")
	}
}

func TestSubCacheInvalidateBeatsSlowLookup(t *testing.T) {
	c := newSubCache(time.Minute)
	now := time.Now()
	_, ok, gen := c.get("cus_a", now)
	if ok {
		t.Fatal("empty cache hit")
	}
	c.invalidate("cus_a") // a webhook lands while Stripe is being asked
	c.put("cus_a", subState{active: true}, gen, now)
	if _, ok, _ := c.get("cus_a", now); ok {
		t.Fatal("stale lookup stored after invalidation")
	}
	_, _, gen = c.get("cus_a", now)
	c.put("cus_a", subState{active: true}, gen, now)
	if st, ok, _ := c.get("cus_a", now); !ok || !st.active {
		t.Fatal("fresh lookup not cached")
	}
	if _, ok, _ := c.get("cus_a", now.Add(time.Minute)); ok {
		t.Fatal("entry outlived its TTL")
	}
}

func TestScrub(t *testing.T) {
	tests := map[string]string{
		`Get "http://x/v1/subscriptions?customer=cus_Abc123&status=all": EOF`: `Get "http://x/v1/subscriptions?[redacted]": EOF`,
		`No such customer: 'cus_Nj5B57LZqvnaIg'`:                              `No such customer: 'cus_[redacted]'`,
		`550 5.1.1 <ada.buyer@example.test>: recipient rejected`:              `550 5.1.1 <[email]>: recipient rejected`,
		`plain message`: `plain message`,
	}
	for in, want := range tests {
		if got := scrub(in); got != want {
			t.Errorf("scrub(%q) = %q, want %q", in, got, want)
		}
	}
}
