package billing

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// Plan is what a room may use and what it costs. Limits apply per room
// (meeting); zero means "no limit".
type Plan struct {
	ID, Name        string
	Paid            bool
	MaxParticipants int           // per room; 0 = unlimited
	MaxDuration     time.Duration // per meeting; 0 = unlimited
	DisplayPrice    string        // shown to buyers, e.g. "$8/month + $0.01/min"
	// Stripe price ids, paid plans only. PriceID is the flat recurring
	// price; MeteredPriceID is the per-minute metered price (optional: a
	// plan without it is flat-rate and reports no usage).
	PriceID, MeteredPriceID string
}

// Defaults of the built-in plans, in one place so docs/billing.md and the
// code agree.
const (
	FreePlanID              = "free"
	FreeMaxParticipants     = 8
	FreeMaxDuration         = 60 * time.Minute
	ProPlanID               = "pro"
	ProMaxParticipants      = 50
	ProMaxDuration          = 8 * time.Hour
	ProDisplayPrice         = "$8/month + $0.01/participant-minute"
	maxPlanIDLen            = 32
	defaultFreeDisplayPrice = "Free"
)

var planIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// DefaultPlans returns the free plan (8 participants, 60 minutes per
// meeting) and one example paid plan "pro" (50 participants, 8 hours). The
// paid plan's Stripe price ids are empty: they come from configuration (see
// ParsePlans), and New refuses a paid plan without PriceID while billing is
// on.
func DefaultPlans() []Plan {
	return []Plan{
		{
			ID: FreePlanID, Name: "Free",
			MaxParticipants: FreeMaxParticipants, MaxDuration: FreeMaxDuration,
			DisplayPrice: defaultFreeDisplayPrice,
		},
		{
			ID: ProPlanID, Name: "Pro", Paid: true,
			MaxParticipants: ProMaxParticipants, MaxDuration: ProMaxDuration,
			DisplayPrice: ProDisplayPrice,
		},
	}
}

// planJSON is the configuration form of a Plan (MEET_PLANS / --plans).
// Durations are Go duration strings such as "90m".
type planJSON struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Paid            *bool  `json:"paid"`
	MaxParticipants *int   `json:"max_participants"`
	MaxDuration     string `json:"max_duration"`
	DisplayPrice    string `json:"display_price"`
	PriceID         string `json:"price_id"`
	MeteredPriceID  string `json:"metered_price_id"`
}

// ParsePlans reads a JSON array of plans and merges it over DefaultPlans:
// an entry whose id matches a default plan overrides only the fields it
// sets; any other entry is a new plan. An empty spec returns DefaultPlans.
//
//	[{"id":"pro","price_id":"price_123","metered_price_id":"price_456"}]
func ParsePlans(spec string) ([]Plan, error) {
	plans := DefaultPlans()
	if spec == "" {
		return plans, nil
	}
	var entries []planJSON
	if err := json.Unmarshal([]byte(spec), &entries); err != nil {
		return nil, fmt.Errorf("%w: plans must be a JSON array of objects: %v", ErrInvalidConfig, err)
	}
	for _, e := range entries {
		i := indexOfPlan(plans, e.ID)
		if i < 0 {
			plans = append(plans, Plan{ID: e.ID})
			i = len(plans) - 1
		}
		if err := e.mergeInto(&plans[i]); err != nil {
			return nil, err
		}
	}
	return plans, validatePlans(plans, false)
}

func (e planJSON) mergeInto(p *Plan) error {
	if e.Name != "" {
		p.Name = e.Name
	}
	if e.Paid != nil {
		p.Paid = *e.Paid
	}
	if e.MaxParticipants != nil {
		p.MaxParticipants = *e.MaxParticipants
	}
	if e.MaxDuration != "" {
		d, err := time.ParseDuration(e.MaxDuration)
		if err != nil {
			return fmt.Errorf("%w: plan %q: max_duration: %v", ErrInvalidConfig, e.ID, err)
		}
		p.MaxDuration = d
	}
	if e.DisplayPrice != "" {
		p.DisplayPrice = e.DisplayPrice
	}
	if e.PriceID != "" {
		p.PriceID = e.PriceID
	}
	if e.MeteredPriceID != "" {
		p.MeteredPriceID = e.MeteredPriceID
	}
	return nil
}

func indexOfPlan(plans []Plan, id string) int {
	for i, p := range plans {
		if p.ID == id {
			return i
		}
	}
	return -1
}

// validatePlans checks ids and limits; with needPrices, every paid plan must
// carry a Stripe price id (billing is on).
func validatePlans(plans []Plan, needPrices bool) error {
	seen := make(map[string]bool, len(plans))
	free := 0
	for _, p := range plans {
		if !planIDPattern.MatchString(p.ID) {
			return fmt.Errorf("%w: plan id %q must be 1-%d of a-z, 0-9, '-'", ErrInvalidConfig, p.ID, maxPlanIDLen)
		}
		if seen[p.ID] {
			return fmt.Errorf("%w: plan id %q appears twice", ErrInvalidConfig, p.ID)
		}
		seen[p.ID] = true
		if p.Name == "" {
			return fmt.Errorf("%w: plan %q has no name", ErrInvalidConfig, p.ID)
		}
		if p.MaxParticipants < 0 || p.MaxDuration < 0 {
			return fmt.Errorf("%w: plan %q has a negative limit", ErrInvalidConfig, p.ID)
		}
		if !p.Paid {
			free++
			continue
		}
		if needPrices && p.PriceID == "" {
			return fmt.Errorf("%w: paid plan %q has no Stripe price id; set price_id in MEET_PLANS", ErrInvalidConfig, p.ID)
		}
	}
	if free == 0 {
		return fmt.Errorf("%w: at least one free plan is required", ErrInvalidConfig)
	}
	return nil
}
