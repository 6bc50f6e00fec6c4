package rxqueue

import (
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newQueue(c *clock, max int) (*Queue, *Drops) {
	d := &Drops{}
	return New(Config{MaxAge: 400 * time.Millisecond, MaxPackets: max, Drops: d, Now: c.now}), d
}

func read(t *testing.T, q *Queue) string {
	t.Helper()
	buf := make([]byte, MaxPacket)
	_ = q.SetReadDeadline(time.Now().Add(time.Second))
	n, err := q.Read(buf)
	if err != nil {
		return "err:" + err.Error()
	}
	return string(buf[:n])
}

func TestQueue(t *testing.T) {
	tests := []struct {
		name  string
		steps func(q *Queue, c *clock)
		want  []string
		late  uint64
		full  uint64
	}{
		{"in order", func(q *Queue, _ *clock) {
			q.Write([]byte("a"))
			q.Write([]byte("b"))
		}, []string{"a", "b"}, 0, 0},
		{"too old is skipped", func(q *Queue, c *clock) {
			q.Write([]byte("old1"))
			q.Write([]byte("old2"))
			c.add(300 * time.Millisecond)
			q.Write([]byte("new"))
			c.add(200 * time.Millisecond) // old ones waited 500 ms, new 200
		}, []string{"new"}, 2, 0},
		{"exactly the bound is kept", func(q *Queue, c *clock) {
			q.Write([]byte("edge"))
			c.add(400 * time.Millisecond)
		}, []string{"edge"}, 0, 0},
		{"full drops the oldest", func(q *Queue, _ *clock) {
			for _, s := range []string{"1", "2", "3", "4", "5"} {
				q.Write([]byte(s))
			}
		}, []string{"2", "3", "4", "5"}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1_700_000_000, 0)}
			q, d := newQueue(c, 4)
			tt.steps(q, c)
			for _, w := range tt.want {
				if got := read(t, q); got != w {
					t.Fatalf("read %q, want %q", got, w)
				}
			}
			if got := read(t, q); got != "err:"+os.ErrDeadlineExceeded.Error() {
				t.Errorf("read after the last: %q, want a deadline error", got)
			}
			if d.Late.Load() != tt.late || d.Full.Load() != tt.full {
				t.Errorf("drops late %d full %d, want %d %d", d.Late.Load(), d.Full.Load(), tt.late, tt.full)
			}
		})
	}
}

func TestQueueCloseAndShortBuffer(t *testing.T) {
	q := New(Config{MaxAge: time.Second})
	q.Write([]byte("hello"))
	if _, err := q.Read(make([]byte, 2)); !errors.Is(err, io.ErrShortBuffer) {
		t.Errorf("short buffer: %v", err)
	}
	q.Close()
	if got := read(t, q); got != "hello" {
		t.Errorf("after close: %q, want the queued packet", got)
	}
	if _, err := q.Read(make([]byte, 10)); !errors.Is(err, io.EOF) {
		t.Errorf("closed and empty: %v, want EOF", err)
	}
	if _, err := q.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("write after close: %v", err)
	}
}

// A blocked Read wakes for a write, and for Close.
func TestQueueWakes(t *testing.T) {
	q := New(Config{MaxAge: time.Second})
	got := make(chan string, 2)
	go func() {
		buf := make([]byte, 10)
		for {
			n, err := q.Read(buf)
			if err != nil {
				got <- err.Error()
				return
			}
			got <- string(buf[:n])
		}
	}()
	time.Sleep(20 * time.Millisecond)
	q.Write([]byte("x"))
	if s := <-got; s != "x" {
		t.Fatalf("got %q", s)
	}
	q.Close()
	select {
	case s := <-got:
		if s != io.EOF.Error() {
			t.Errorf("after close: %q", s)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Read did not return after Close")
	}
}

func TestQueueNoAllocs(t *testing.T) {
	q := New(Config{MaxAge: time.Second})
	p, buf := make([]byte, 1200), make([]byte, MaxPacket)
	for range 8 {
		q.Write(p)
		q.Read(buf)
	}
	if a := testing.AllocsPerRun(1000, func() { q.Write(p); q.Read(buf) }); a != 0 {
		t.Errorf("%v allocations per packet", a)
	}
}

func BenchmarkQueue(b *testing.B) {
	q := New(Config{MaxAge: time.Second})
	p, buf := make([]byte, 1200), make([]byte, MaxPacket)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		q.Write(p)
		q.Read(buf)
	}
}
