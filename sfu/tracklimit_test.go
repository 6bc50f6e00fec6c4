package sfu

import (
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

func TestMediaSectionCounts(t *testing.T) {
	section := func(port, dir string) string {
		return "m=audio " + port + " UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:x\r\n" + dir
	}
	head := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	for _, tc := range []struct {
		name           string
		sections       []string
		total, sending int
	}{
		{"none", nil, 0, 0},
		{"two sending", []string{section("9", "a=sendonly\r\n"), section("9", "a=sendrecv\r\n")}, 2, 2},
		{"default direction sends", []string{section("9", "")}, 1, 1},
		{"stopped and receive-only do not", []string{section("0", "a=sendonly\r\n"), section("9", "a=recvonly\r\n"), section("9", "a=inactive\r\n")}, 3, 0},
	} {
		raw := head + strings.Join(tc.sections, "")
		if n := mediaSections(raw); n != tc.total {
			t.Errorf("%s: mediaSections %d, want %d", tc.name, n, tc.total)
		}
		var d sdp.SessionDescription
		if err := d.UnmarshalString(raw); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := sendingSections(&d); n != tc.sending {
			t.Errorf("%s: sendingSections %d, want %d", tc.name, n, tc.sending)
		}
	}
}
