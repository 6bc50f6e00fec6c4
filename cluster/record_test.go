package cluster

import (
	"encoding/json"
	"net/url"
	"testing"
)

func TestDecodeNode(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"ours", `{"url":"https://node1.example.com","load":{"Participants":3,"CPU":0.25},"rooms":1,"draining":false}`, true},
		{"not json", `{"url":`, false},
		{"javascript URL", `{"url":"javascript:alert(1)"}`, false},
		{"relative URL", `{"url":"/node1"}`, false},
		{"credentials in URL", `{"url":"https://user:pw@node1.example.com"}`, false},
		{"negative participants", `{"url":"http://a","load":{"Participants":-1}}`, false},
		{"CPU above one", `{"url":"http://a","load":{"CPU":7}}`, false},
		{"negative rooms", `{"url":"http://a","rooms":-2}`, false},
	}
	for _, tt := range tests {
		if _, ok := decodeNode("n1", []byte(tt.raw)); ok != tt.ok {
			t.Errorf("%s: ok=%v, want %v", tt.name, ok, tt.ok)
		}
	}
}

// FuzzRedisRecords feeds arbitrary node records and room owners to the
// decoding placement relies on: what is accepted must be safe to redirect
// a client to and to compare loads with. Seeds: testdata/fuzz.
func FuzzRedisRecords(f *testing.F) {
	f.Add([]byte(`{"url":"http://127.0.0.1:8080","load":{"Participants":1,"CPU":0.5},"rooms":1}`), "node-1")
	f.Fuzz(func(t *testing.T, raw []byte, owner string) {
		n, ok := decodeNode("n1", raw)
		if ok {
			u, err := url.Parse(n.URL)
			if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
				t.Fatalf("accepted node URL %q", n.URL)
			}
			if n.ID != "n1" || n.Load.Participants < 0 || n.Rooms < 0 || !(n.Load.CPU >= 0 && n.Load.CPU <= 1) {
				t.Fatalf("accepted %+v", n)
			}
			// What a node writes, it reads back unchanged.
			again, _ := json.Marshal(n)
			if m, ok := decodeNode("n1", again); !ok || m != n {
				t.Fatalf("round trip of %s gave %+v, %v", again, m, ok)
			}
		}
		if validNodeID(owner) && (owner == "" || len(owner) > 64) {
			t.Fatalf("accepted owner %q", owner)
		}
	})
}
