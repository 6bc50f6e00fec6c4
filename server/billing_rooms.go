package server

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/billing"
	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/signaling"
)

// billingWiring is the server's side of paid plans while billing is on: a
// check before each join that gives a room it opens the terms of its plan,
// and a room observer that meters the connected time of paid rooms.
//
// A room is paid or free for its whole life, decided by the join that opens
// it (like E2EE): a paid token opens a paid room billed to its customer,
// anything else a free room. Everyone who joins a paid room later, with or
// without a code, is metered to that customer: the host pays for the
// meeting. Free rooms record no connection time. The SFU holds the terms
// with the room, ends the meeting at the plan's length and enforces its
// participant cap; nothing about rooms is kept here.
type billingWiring struct {
	svc   *billing.Service
	usage usageRecorder
	log   *slog.Logger

	stopRun func()        // stops svc.Run
	runDone chan struct{} // closed when svc.Run returned
}

// roomPlan is the plan a join asks for: the paid plan in its token, or the
// free plan. A token naming a plan this server no longer offers (the
// configuration changed since it was issued minutes ago) opens a free
// room rather than billing for a plan nobody can see.
func (b *billingWiring) roomPlan(c *auth.Claims) (billing.Plan, string) {
	if c != nil && c.Customer != "" {
		if p, ok := b.svc.Plan(c.Plan); ok && p.Paid {
			return p, c.Customer
		}
	}
	return b.svc.FreePlan(), ""
}

// checkJoin is the billing check before a join (signaling.JoinCheck): it
// never refuses, it sets the terms the room gets if this join opens it.
// The plan's participant cap then holds in the SFU, which also keeps its
// own cap on top.
func (b *billingWiring) checkJoin(_ string, req *signaling.JoinRequest) error {
	plan, customer := b.roomPlan(req.Claims)
	req.Terms = sfu.RoomTerms{MaxParticipants: plan.MaxParticipants, MaxDuration: plan.MaxDuration, Payer: customer}
	if plan.MaxDuration > 0 {
		// Ending, rather than only warning, is what makes the limit mean
		// something; each client gets a "closed" error that says why and
		// what to do.
		req.Terms.EndReason = limitReason(plan)
	}
	return nil
}

// RoomEvent meters paid rooms (sfu.RoomObserver): the connected time of
// each participant who leaves a room with a payer.
func (b *billingWiring) RoomEvent(e sfu.RoomEvent) {
	if l, ok := e.(sfu.MemberLeft); ok && l.Payer != "" && l.Connected > 0 {
		b.usage.RecordUsage(l.Payer, l.Connected)
	}
}

func limitReason(p billing.Plan) string {
	msg := fmt.Sprintf("This meeting reached the %s limit of the %s plan.", lengthText(p.MaxDuration), p.Name)
	if p.Paid {
		return msg + " Start a new meeting to go on."
	}
	return msg + " Start a new meeting to go on, or use an access code for longer meetings."
}

// lengthText says 60 minutes as "60-minute" and 8 hours as "8-hour".
func lengthText(d time.Duration) string {
	switch {
	case d >= 2*time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d-hour", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%d-minute", d/time.Minute)
	}
	return d.String() + " length"
}
