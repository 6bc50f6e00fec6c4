package load

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monkeythorn/meet/bench"
	"github.com/monkeythorn/meet/e2ee"
)

func TestExtend(t *testing.T) {
	tests := []struct {
		highest uint64
		seq     uint16
		want    uint64
	}{
		{1<<20 | 100, 101, 1<<20 | 101},
		{1<<20 | 100, 99, 1<<20 | 99},
		{1<<20 | 0xffff, 0, 1<<20 + 0x10000},
		{1<<20 + 0x10000, 0xfffe, 1<<20 | 0xfffe},
		{1<<20 | 40000, 1000, 1<<20 + 0x10000 + 1000},
		{1<<20 | 1000, 40000, 1<<20 - 0x10000 + 40000},
	}
	for _, tt := range tests {
		if got := extend(tt.highest, tt.seq); got != tt.want {
			t.Errorf("extend(%#x, %d) = %#x, want %#x", tt.highest, tt.seq, got, tt.want)
		}
	}
}

// rtpPacket builds a minimal RTP packet with an extension header, as Pion
// delivers after SRTP.
func rtpPacket(seq uint16, marker bool, payload []byte) []byte {
	b := make([]byte, 12, 12+8+len(payload))
	b[0] = 0x90 // version 2, extension
	if marker {
		b[1] = 0x80 | 96
	} else {
		b[1] = 96
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	b = append(b, 0xbe, 0xde, 0, 1, 0x10, 'x', 0, 0) // one-byte extension: 1 word
	return append(b, payload...)
}

func feedFrame(tr *recvTrack, seq *uint16, frame []byte, skip int, now time.Time) {
	i := 0
	bench.Packetize(nil, frame, 500, func(p []byte, last bool) error {
		*seq++
		if i != skip {
			tr.packet(rtpPacket(*seq, last, p), now)
		}
		i++
		return nil
	})
}

// TestRecvTrack checks loss, reordering and latency accounting, with and
// without E2EE, across a sequence number wrap.
func TestRecvTrack(t *testing.T) {
	rk, err := e2ee.DeriveRoomKey("AAAAAAAAAAAAAAAAAAAAAA", "abcdefghj")
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := rk.Frame("pub", e2ee.SourceCamera, benchJoinSalt())
	for _, withKey := range []*e2ee.SenderKey{nil, sk} {
		var measuring atomic.Bool
		measuring.Store(true)
		epoch := time.Now()
		tr := newRecvTrack(epoch, &measuring, withKey)
		seq := uint16(0xfff0)
		ivs := e2ee.NewIVSequence()
		frame := func(sendMs, recvMs int64, skip int) {
			f := bench.BuildFrame(nil, false, 1800, sendMs*1e6, 1)
			if withKey != nil {
				f, _ = withKey.EncryptFrame(nil, e2ee.CodecVP8, false, ivs.Next(), 0, f)
			}
			feedFrame(tr, &seq, f, skip, epoch.Add(time.Duration(recvMs)*time.Millisecond))
		}
		frame(100, 103, -1) // 3 ms
		frame(133, 138, -1) // 5 ms, wraps the sequence number
		frame(166, 170, 1)  // middle packet lost: not timed
		frame(200, 201, -1) // 1 ms
		if got := tr.received.Load(); got != 15 {
			t.Errorf("received %d, want 15", got)
		}
		if got := tr.expected.Load(); got != 16 {
			t.Errorf("expected %d, want 16", got)
		}
		lat := tr.lat.Values()
		if len(lat) != 3 || lat[0] != 3 || lat[1] != 5 || lat[2] != 1 {
			t.Errorf("latencies %v, want [3 5 1] ms (key %v)", lat, withKey != nil)
		}
		// A late packet from before is reordered, not new.
		tr.packet(rtpPacket(seq-5, false, []byte{0x00, 1, 2}), epoch)
		if tr.reordered.Load() != 1 || tr.expected.Load() != 16 {
			t.Errorf("reordered %d expected %d", tr.reordered.Load(), tr.expected.Load())
		}
		if tr.badE2EE.Load() != 0 {
			t.Errorf("%d frames failed decryption", tr.badE2EE.Load())
		}
	}
}

func TestParseRTP(t *testing.T) {
	p, ok := parseRTP(rtpPacket(7, true, []byte{0x10, 0xaa}))
	if !ok || p.seq != 7 || !p.marker || len(p.payload) != 2 || p.payload[1] != 0xaa {
		t.Fatalf("parseRTP = %+v %v", p, ok)
	}
	padded := append(rtpPacket(8, false, []byte{0x10, 0xaa}), 0, 0, 3)
	padded[0] |= 0x20
	if p, ok := parseRTP(padded); !ok || len(p.payload) != 2 {
		t.Errorf("padding: %+v %v", p, ok)
	}
	for _, bad := range [][]byte{nil, make([]byte, 11), {0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, rtpPacket(1, false, nil)[:14]} {
		if _, ok := parseRTP(bad); ok {
			t.Errorf("parseRTP(%x) accepted", bad)
		}
	}
}

func BenchmarkRecvTrackPacket(b *testing.B) {
	var measuring atomic.Bool
	tr := newRecvTrack(time.Now(), &measuring, nil)
	frame := bench.BuildFrame(nil, false, 1090, 1, 1)
	pkts := [][]byte{}
	for i := range 64 {
		first := byte(0)
		if i%4 == 0 {
			first = 0x10
		}
		pkts = append(pkts, rtpPacket(uint16(i), i%4 == 3, append([]byte{first}, frame...)))
	}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := pkts[i%64]
		binary.BigEndian.PutUint16(p[2:], uint16(i))
		tr.packet(p, now)
		i++
	}
}
