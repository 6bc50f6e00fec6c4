package cluster

import "testing"

func TestLeastLoadedPick(t *testing.T) {
	n := func(id string, participants int, cpu float64, rooms int, self bool) Node {
		return Node{ID: id, Load: Load{Participants: participants, CPU: cpu}, Rooms: rooms, Self: self}
	}
	tests := []struct {
		name  string
		nodes []Node
		want  string
	}{
		{"fewest participants", []Node{n("a", 10, 0.1, 1, true), n("b", 3, 0.9, 5, false), n("c", 7, 0.0, 0, false)}, "b"},
		{"cpu breaks participant tie", []Node{n("a", 4, 0.5, 0, false), n("b", 4, 0.2, 9, false)}, "b"},
		{"self breaks load tie", []Node{n("a", 4, 0.2, 0, false), n("b", 4, 0.2, 3, true)}, "b"},
		{"rooms break tie", []Node{n("a", 4, 0.2, 3, false), n("b", 4, 0.2, 1, false)}, "b"},
		{"id breaks full tie", []Node{n("c", 0, 0, 0, false), n("a", 0, 0, 0, false), n("b", 0, 0, 0, false)}, "a"},
		{"single node", []Node{n("z", 99, 1, 9, false)}, "z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := LeastLoaded{}.Pick(tt.nodes)
			if !ok || got.ID != tt.want {
				t.Errorf("Pick = %q, %v; want %q", got.ID, ok, tt.want)
			}
		})
	}
	if _, ok := (LeastLoaded{}).Pick(nil); ok {
		t.Error("Pick of no nodes returned ok")
	}
}

func TestRoomKey(t *testing.T) {
	a := roomKey(testSecret, "abc-defg-hij")
	if a != roomKey(testSecret, "abc-defg-hij") {
		t.Error("roomKey is not deterministic")
	}
	if a == roomKey(testSecret, "abc-defg-hik") {
		t.Error("two rooms share a key")
	}
	other := append([]byte("x"), testSecret[1:]...)
	if a == roomKey(other, "abc-defg-hij") {
		t.Error("roomKey does not depend on the secret")
	}
	if len(a) != len(keyRoomPrefix)+32 {
		t.Errorf("roomKey %q: want prefix and 32 hex digits", a)
	}
}

func BenchmarkRoomKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = roomKey(testSecret, "abc-defg-hij")
	}
}
