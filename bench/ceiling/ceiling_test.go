package ceiling

import (
	"context"
	"errors"
	"github.com/monkeythorn/meet/internal/leaktest"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// The test binary doubles as the sink process, as meet-bench does.
func TestMain(m *testing.M) {
	if os.Getenv("CEILING_TEST_SINK") == "1" {
		if err := ServeSink(os.Stdin, os.Stdout, time.Minute); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func sinkCmd(t *testing.T) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "CEILING_TEST_SINK=1")
	cmd.Stderr = os.Stderr
	return cmd
}

func TestRun(t *testing.T) {
	leaktest.Check(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"saturation", Config{Duration: 300 * time.Millisecond, Fanout: 3}},
		{"paced 2000/s", Config{Duration: 1 * time.Second, Rate: 2000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r, err := Run(ctx, tt.cfg, sinkCmd(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", *r)
			if r.Packets <= 0 || r.SendErrors != 0 {
				t.Fatalf("sent %d packets, %d errors", r.Packets, r.SendErrors)
			}
			if r.PacketBytes != 12+DefaultPayloadSize+16 {
				t.Errorf("packet is %d bytes, want RTP header + payload + GCM tag = %d", r.PacketBytes, 12+DefaultPayloadSize+16)
			}
			if r.Received > r.Packets || r.Received == 0 {
				t.Errorf("receiver counted %d of %d", r.Received, r.Packets)
			}
			if r.SenderCPUS <= 0 || r.CeilingPacketsPerCoreS <= 0 || r.SenderThreadCPUS > r.SenderCPUS+0.01 {
				t.Errorf("CPU accounting: process %.3f s, thread %.3f s, ceiling %.0f", r.SenderCPUS, r.SenderThreadCPUS, r.CeilingPacketsPerCoreS)
			}
			if tt.cfg.Rate > 0 {
				// Pacing is a correctness property: never more than asked.
				want := float64(tt.cfg.Rate) * r.WallS
				if float64(r.Packets) > want*1.01+1 || float64(r.Packets) < want*0.5 {
					t.Errorf("paced run sent %d packets, want about %.0f", r.Packets, want)
				}
				if float64(r.Received) < 0.95*float64(r.Packets) {
					t.Errorf("paced run: receiver counted %d of %d", r.Received, r.Packets)
				}
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no sink", Config{}},
		{"not loopback", Config{Sink: &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 9}}},
		{"negative rate", Config{Sink: lo, Rate: -1}},
		{"too long", Config{Sink: lo, Duration: time.Hour}},
		{"tiny payload", Config{Sink: lo, PayloadSize: 4}},
		{"jumbo payload", Config{Sink: lo, PayloadSize: 9000}},
		{"fanout", Config{Sink: lo, Fanout: -2}},
	}
	for _, tt := range tests {
		if _, err := Send(context.Background(), tt.cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", tt.name, err)
		}
	}
}

func TestSinkFailsCleanly(t *testing.T) {
	cmd := exec.Command("/bin/true")
	if _, err := Run(context.Background(), Config{Duration: time.Second}, cmd); !errors.Is(err, ErrSink) {
		t.Errorf("err = %v, want ErrSink", err)
	}
}

// BenchmarkSendPath is the per-packet step alone (rewrite, encrypt,
// sendto) at saturation, for comparison with the SFU's hot path benchmarks.
func BenchmarkSendPath(b *testing.B) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := conn.Read(buf); errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	b.SetBytes(DefaultPayloadSize)
	b.ResetTimer()
	r, err := Send(context.Background(), Config{Sink: conn.LocalAddr().(*net.UDPAddr), Duration: 500 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.NsPerPacket, "cpu-ns/packet")
	b.ReportMetric(r.CeilingPacketsPerCoreS, "packets/core-s")
}
