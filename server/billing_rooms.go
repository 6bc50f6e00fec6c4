package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/monkeythorn/meet/auth"
	"github.com/monkeythorn/meet/billing"
	"github.com/monkeythorn/meet/sfu"
	"github.com/monkeythorn/meet/signaling"
)

// billingWiring is the server's side of paid plans while billing is on:
// the plan each live room was opened with, the meeting-length timers, and
// the connection time of paid rooms.
//
// A room is paid or free for its whole life, decided by the join that opens
// it (like E2EE): a paid token opens a paid room billed to its customer,
// anything else a free room. Everyone who joins a paid room later, with or
// without a code, is metered to that customer: the host pays for the
// meeting. Free rooms record no connection time at all; the only thing the
// server keeps for them is the timer that ends the meeting at the plan's
// length limit, and it goes with the room.
type billingWiring struct {
	svc     *billing.Service
	usage   usageRecorder
	now     func() time.Time
	log     *slog.Logger
	handoff *claimsHandoff

	mu     sync.Mutex
	rooms  map[string]*planRoom // live rooms by code
	leaves sync.WaitGroup       // one per joined participant, until it has left

	stopRun context.CancelFunc // stops svc.Run
	runDone chan struct{}
}

// planRoom is what the opening join decided about a room.
type planRoom struct {
	plan     billing.Plan
	customer string            // who pays; "" = free room, never metered
	members  map[string]member // joined participants by id
	joining  int               // joins in flight, not yet members
	timer    *time.Timer       // ends the meeting at plan.MaxDuration; nil = no limit
	ended    bool              // the timer fired: members are being closed
}

type member struct {
	p signaling.Participant
	l sfu.Listener
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

// acquire returns the room's state, opening it with plan and customer when
// no one is in it, and counts one join in flight. A room at its plan's
// participant cap refuses with sfu.ErrRoomFull, which signaling reports as
// "room-full".
func (b *billingWiring) acquire(room string, plan billing.Plan, customer string) (*planRoom, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.rooms[room]
	if r != nil && r.plan.MaxParticipants > 0 && len(r.members)+r.joining >= r.plan.MaxParticipants {
		return nil, sfu.ErrRoomFull
	}
	if r == nil {
		r = &planRoom{plan: plan, customer: customer, members: map[string]member{}}
		if plan.MaxDuration > 0 {
			r.timer = time.AfterFunc(plan.MaxDuration, func() { b.endMeeting(room, r) })
		}
		b.rooms[room] = r
		b.log.Debug("room opened", "plan", plan.ID, "paid", customer != "")
	}
	r.joining++
	return r, nil
}

// joined turns a join in flight into a member. It reports false when the
// meeting ended meanwhile; the caller then closes the participant.
func (b *billingWiring) joined(r *planRoom, id string, m member) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	r.joining--
	r.members[id] = m
	return !r.ended
}

// release forgets a failed join (id "") or a member that left, and the
// room once nobody is in it or on the way.
func (b *billingWiring) release(room string, r *planRoom, id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if id == "" {
		r.joining--
	} else {
		delete(r.members, id)
	}
	if len(r.members) > 0 || r.joining > 0 {
		return
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	if b.rooms[room] == r {
		delete(b.rooms, room)
	}
}

// endMeeting closes every participant of a room that reached its plan's
// length limit. Ending, rather than only warning, is what makes the limit
// mean something; each client gets a "closed" error that says why and what
// to do. The room is forgotten at once, so a join after this starts a new
// meeting with a fresh limit.
func (b *billingWiring) endMeeting(room string, r *planRoom) {
	b.mu.Lock()
	r.ended = true
	if b.rooms[room] == r {
		delete(b.rooms, room)
	}
	members := make([]member, 0, len(r.members))
	for _, m := range r.members {
		members = append(members, m)
	}
	b.mu.Unlock()
	b.log.Info("meeting reached its plan's length limit", "plan", r.plan.ID, "participants", len(members))
	for _, m := range members {
		closeForLimit(m, r.plan)
	}
}

func closeForLimit(m member, plan billing.Plan) {
	// The Closed event is how the SFU tells a session why it was removed;
	// it makes signaling send a fatal "closed" error with this text.
	m.l.Event(&sfu.Closed{Reason: limitReason(plan)})
	m.p.Close()
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

// stopTimers stops every meeting timer at shutdown: the rooms are closing
// anyway, and a timer firing into a closed session would only log noise.
func (b *billingWiring) stopTimers() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.rooms {
		if r.timer != nil {
			r.timer.Stop()
		}
	}
}

// waitLeaves waits until every participant's leave has been handled (and
// its connection time recorded), or ctx ends.
func (b *billingWiring) waitLeaves(ctx context.Context) error {
	done := make(chan struct{})
	go func() { b.leaves.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// roomCount is the number of rooms with a plan, for tests.
func (b *billingWiring) roomCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.rooms)
}

// planConference is the signaling.Conference of a server with billing on,
// in front of the real one: it gives each room its plan's limits and
// meters paid rooms. The participant cap is enforced here rather than
// handed to the SFU so that it holds whatever Conference is behind (the
// SFU's own cap still applies on top).
type planConference struct {
	b    *billingWiring
	next signaling.Conference
}

func (c planConference) Join(room string, req signaling.JoinRequest) (signaling.Participant, error) {
	b := c.b
	plan, customer := b.roomPlan(b.handoff.take(req.ID))
	r, err := b.acquire(room, plan, customer)
	if err != nil {
		return nil, err
	}
	p, err := c.next.Join(room, req)
	if err != nil {
		b.release(room, r, "")
		return nil, err
	}
	var start time.Time // free rooms: not even the join time is read
	if r.customer != "" {
		start = b.now()
	}
	m := member{p: p, l: req.Listener}
	// Member first, watcher second: a participant gone at once must find
	// itself in the room to be released from it.
	live := b.joined(r, req.ID, m)
	b.leaves.Add(1)
	go b.watch(room, r, req.ID, p, start)
	if !live {
		closeForLimit(m, r.plan)
	}
	return p, nil
}

// watch waits for the participant to leave, then records its connection
// time if the room is paid. One goroutine per participant: Done is the one
// signal every way of leaving (bye, lost connection, SFU removal, drain)
// has in common.
func (b *billingWiring) watch(room string, r *planRoom, id string, p signaling.Participant, start time.Time) {
	defer b.leaves.Done()
	<-p.Done()
	if r.customer != "" {
		if d := b.now().Sub(start); d > 0 {
			b.usage.RecordUsage(r.customer, d)
		}
	}
	b.release(room, r, id)
}

// claimsHandoff carries a paid token's claims from signaling's Verify call
// to its Conference.Join call for the same participant, which follows it
// at once on the same goroutine. signaling.JoinRequest does not carry the
// token's plan, and the plan is a server concern signaling need not know,
// so the server remembers it for that moment, keyed by the participant id
// (the token's random subject). Free tokens are not stored: no entry means
// free. Entries not taken within handoffTTL (a join that never happened)
// are swept.
type claimsHandoff struct {
	mu sync.Mutex
	m  map[string]*handoff
}

type handoff struct {
	claims *auth.Claims
	n      int // concurrent joins with the same token
	at     time.Time
}

const handoffTTL = 30 * time.Second

func newClaimsHandoff() *claimsHandoff {
	return &claimsHandoff{m: map[string]*handoff{}}
}

func (h *claimsHandoff) put(c *auth.Claims) {
	if c == nil || c.Plan == "" || c.Customer == "" {
		return
	}
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, e := range h.m {
		if now.Sub(e.at) > handoffTTL {
			delete(h.m, id)
		}
	}
	e := h.m[c.Subject]
	if e == nil {
		e = &handoff{claims: c}
		h.m[c.Subject] = e
	}
	e.n++
	e.at = now
}

// take returns and forgets the paid claims for a participant id, or nil.
func (h *claimsHandoff) take(id string) *auth.Claims {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.m[id]
	if e == nil {
		return nil
	}
	if e.n--; e.n <= 0 {
		delete(h.m, id)
	}
	return e.claims
}

// planVerifier is the token Verifier signaling uses while billing is on:
// the real one, handing paid claims on to planConference.
type planVerifier struct {
	next signaling.Verifier
	h    *claimsHandoff
}

func (v planVerifier) Verify(token string) (*auth.Claims, error) {
	c, err := v.next.Verify(token)
	if err == nil {
		v.h.put(c)
	}
	return c, err
}

func (v planVerifier) VerifyForRoom(token string, room auth.RoomCode) (*auth.Claims, error) {
	c, err := v.next.VerifyForRoom(token, room)
	if err == nil {
		v.h.put(c)
	}
	return c, err
}
