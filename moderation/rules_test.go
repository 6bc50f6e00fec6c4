package moderation

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// step is one thing that happens in a meeting, written as a line of a
// script: "join a", "join h key", "arrive b" (expects the decision in
// want), "leave a", "remove a b" (a removes b), "lock a", "unlock a",
// "lobby a", "nolobby a", "admit a b", "deny a b", "handover a b".
type step struct {
	do   string
	want string // decision for arrive, error for actions ("" = nil), "" otherwise
}

func run(t *testing.T, r *Rules, steps []step) {
	t.Helper()
	for i, s := range steps {
		var verb, a, b string
		fmt.Sscan(s.do, &verb, &a, &b)
		var got string
		var err error
		switch verb {
		case "join":
			r.Join(a, b == "key")
		case "arrive":
			got = r.Arrive(Arrival{ID: a, HostKey: b == "key"}).String()
		case "rejoin": // a comes back as b
			got = r.Arrive(Arrival{ID: b, Rejoin: a}).String()
		case "leave":
			r.Leave(a)
		case "remove":
			err = r.Remove(a, b)
		case "lock", "unlock":
			err = r.SetLocked(a, verb == "lock")
		case "lobby", "nolobby":
			_, err = r.SetLobby(a, verb == "lobby")
		case "admit":
			err = r.Admit(a, b)
		case "deny":
			err = r.Deny(a, b)
		case "handover":
			err = r.HandOver(a, b)
		default:
			t.Fatalf("step %d: unknown verb %q", i, verb)
		}
		if err != nil {
			got = errName(err)
		}
		if got != s.want {
			t.Fatalf("step %d %q: got %q, want %q", i, s.do, got, s.want)
		}
	}
}

func errName(err error) string {
	switch {
	case errors.Is(err, ErrNotHost):
		return "not-host"
	case errors.Is(err, ErrNoParticipant):
		return "no-participant"
	case errors.Is(err, ErrSelf):
		return "self"
	}
	return err.Error()
}

func TestRules(t *testing.T) {
	tests := []struct {
		name   string
		steps  []step
		hosts  []string
		locked bool
		lobby  bool
		wait   []string
	}{
		{
			name:  "the first to join is host without the key",
			steps: []step{{do: "arrive a", want: "enter"}, {do: "join a"}, {do: "join b"}},
			hosts: []string{"a"},
		},
		{
			name:  "the host key makes a second host",
			steps: []step{{do: "join a"}, {do: "join b"}, {do: "join h key"}},
			hosts: []string{"a", "h"},
		},
		{
			name:  "host leaves: the longest present becomes host",
			steps: []step{{do: "join h key"}, {do: "join b"}, {do: "join c"}, {do: "leave h"}},
			hosts: []string{"b"},
		},
		{
			name:  "a non-host leaving changes nothing",
			steps: []step{{do: "join h key"}, {do: "join b"}, {do: "join c"}, {do: "leave b"}},
			hosts: []string{"h"},
		},
		{
			name:  "one of two hosts leaves: no promotion",
			steps: []step{{do: "join a"}, {do: "join b"}, {do: "join h key"}, {do: "leave a"}},
			hosts: []string{"h"},
		},
		{
			name:  "everyone leaves: no host",
			steps: []step{{do: "join a"}, {do: "join b"}, {do: "leave a"}, {do: "leave b"}},
			hosts: []string{},
		},
		{
			name: "non-hosts cannot act",
			steps: []step{
				{do: "join h key"}, {do: "join b"}, {do: "join c"},
				{do: "remove b c", want: "not-host"}, {do: "lock b", want: "not-host"}, {do: "lobby b", want: "not-host"},
				{do: "handover b c", want: "not-host"}, {do: "admit b x", want: "not-host"}, {do: "deny b x", want: "not-host"},
				{do: "remove ghost c", want: "not-host"},
			},
			hosts: []string{"h"},
		},
		{
			name:  "hand-over moves host rights",
			steps: []step{{do: "join h key"}, {do: "join b"}, {do: "handover h b"}, {do: "remove h b", want: "not-host"}, {do: "remove b h"}},
			hosts: []string{"b"},
		},
		{
			name:  "hand-over to someone absent or to oneself fails",
			steps: []step{{do: "join h"}, {do: "handover h nobody", want: "no-participant"}, {do: "handover h h", want: "self"}},
			hosts: []string{"h"},
		},
		{
			name: "removed id refused for the rest of the meeting, also as a rejoin",
			steps: []step{
				{do: "join h key"}, {do: "join b"}, {do: "remove h b"}, {do: "leave b"},
				{do: "arrive b", want: "refused-removed"}, {do: "rejoin b b2", want: "refused-removed"},
				{do: "remove h b", want: "no-participant"}, {do: "remove h h", want: "self"},
			},
			hosts: []string{"h"},
		},
		{
			name:  "removing a host takes its rights at once",
			steps: []step{{do: "join a"}, {do: "join h key"}, {do: "remove h a"}},
			hosts: []string{"h"},
		},
		{
			name: "locked: newcomers refused, host key and rejoin pass",
			steps: []step{
				{do: "join h key"}, {do: "join b"}, {do: "lock h"},
				{do: "arrive c", want: "refused-locked"}, {do: "arrive h2 key", want: "enter"},
				{do: "leave b"}, {do: "rejoin b b2", want: "enter"},
			},
			hosts: []string{"h"}, locked: true,
		},
		{
			name:  "unlock lets newcomers in again",
			steps: []step{{do: "join h"}, {do: "lock h"}, {do: "unlock h"}, {do: "arrive c", want: "enter"}},
			hosts: []string{"h"},
		},
		{
			name: "lobby: wait, admit, join",
			steps: []step{
				{do: "join h key"}, {do: "lobby h"}, {do: "arrive c", want: "wait"}, {do: "arrive d", want: "wait"},
				{do: "arrive c", want: "wait"}, {do: "admit h c"}, {do: "arrive c", want: "enter"}, {do: "join c"},
				{do: "admit h c", want: "no-participant"},
			},
			hosts: []string{"h"}, lobby: true, wait: []string{"d"},
		},
		{
			name: "lobby: denied id refused from then on",
			steps: []step{
				{do: "join h"}, {do: "lobby h"}, {do: "arrive c", want: "wait"}, {do: "deny h c"},
				{do: "arrive c", want: "refused-removed"}, {do: "deny h c", want: "no-participant"},
			},
			hosts: []string{"h"}, lobby: true, wait: []string{},
		},
		{
			name: "lobby: host key and rejoin skip it; lock beats it",
			steps: []step{
				{do: "join h"}, {do: "join b"}, {do: "lobby h"}, {do: "arrive k key", want: "enter"},
				{do: "leave b"}, {do: "rejoin b b2", want: "enter"}, {do: "lock h"}, {do: "arrive c", want: "refused-locked"},
			},
			hosts: []string{"h"}, locked: true, lobby: true, wait: []string{},
		},
		{
			name: "lobby off lets the queue in",
			steps: []step{
				{do: "join h"}, {do: "lobby h"}, {do: "arrive c", want: "wait"}, {do: "nolobby h"},
				{do: "arrive c", want: "enter"}, {do: "arrive d", want: "enter"},
			},
			hosts: []string{"h"}, wait: []string{},
		},
		{
			name: "a waiter who gives up leaves the queue",
			steps: []step{
				{do: "join h"}, {do: "lobby h"}, {do: "arrive c", want: "wait"}, {do: "leave c"}, {do: "admit h c", want: "no-participant"},
			},
			hosts: []string{"h"}, lobby: true, wait: []string{},
		},
		{
			name: "a waiter can be removed too",
			steps: []step{
				{do: "join h"}, {do: "lobby h"}, {do: "arrive c", want: "wait"}, {do: "remove h c"}, {do: "arrive c", want: "refused-removed"},
			},
			hosts: []string{"h"}, lobby: true, wait: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(0)
			run(t, r, tt.steps)
			st := r.State()
			if !slices.Equal(st.Hosts, tt.hosts) || st.Locked != tt.locked || st.Lobby != tt.lobby {
				t.Errorf("state %+v, want hosts %v locked %v lobby %v", st, tt.hosts, tt.locked, tt.lobby)
			}
			if tt.wait != nil {
				var ids []string
				for _, w := range r.Waiting() {
					ids = append(ids, w.ID)
				}
				if !slices.Equal(ids, tt.wait) && !(len(ids) == 0 && len(tt.wait) == 0) {
					t.Errorf("waiting %v, want %v", ids, tt.wait)
				}
			}
		})
	}
}

func TestLobbyFull(t *testing.T) {
	r := New(2)
	r.Join("h", true)
	if _, err := r.SetLobby("h", true); err != nil {
		t.Fatal(err)
	}
	for i, want := range []Decision{Wait, Wait, RefusedLobbyFull} {
		if got := r.Arrive(Arrival{ID: fmt.Sprint("w", i)}); got != want {
			t.Errorf("arrival %d: %v, want %v", i, got, want)
		}
	}
	if got := r.Arrive(Arrival{ID: "w0", Profile: "new"}); got != Wait {
		t.Errorf("a waiter asking again: %v, want wait", got)
	}
	if w := r.Waiting(); len(w) != 2 || w[0].Profile != "new" {
		t.Errorf("waiting %+v, want two, the first with its new profile", w)
	}
}

func TestStateIsACopy(t *testing.T) {
	r := New(0)
	r.Join("a", false)
	st := r.State()
	st.Hosts[0] = "x"
	if !r.IsHost("a") || r.IsHost("x") {
		t.Error("changing a State changed the rules")
	}
}

func TestJoinReportsChange(t *testing.T) {
	r := New(0)
	if !r.Join("a", false) {
		t.Error("first join (becomes host) reported no change")
	}
	if r.Join("b", false) {
		t.Error("second join reported a change")
	}
	if changed, _ := r.Leave("b"); changed {
		t.Error("a non-host leaving reported a change")
	}
	if changed, _ := r.Leave("a"); !changed {
		t.Error("the host leaving reported no change")
	}
}
