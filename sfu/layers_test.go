package sfu

import (
	"slices"
	"testing"
	"time"

	"github.com/monkeythorn/meet/sfu/packetcache"
	"github.com/monkeythorn/meet/sfu/simulcast"
)

// simulcastUp is an UpTrack whose publisher announced q, h and f (the SDP's
// rids) and of which only the layers in flowing have arrived and flow.
func simulcastUp(t *testing.T, flowing ...int) (*UpTrack, *DownTrack, func() []string) {
	t.Helper()
	pool, up, _, events := fakeTracks(t, 0)
	up.info.Simulcast = true
	up.layers[0] = nil
	for i, rid := range []string{"q", "h", "f"} {
		up.ladder[i] = simulcast.Spec{Known: true, RID: rid}
	}
	for _, i := range flowing {
		up.layers[i] = &upLayer{index: i, rid: up.ladder[i].RID, cache: packetcache.New(8)}
		up.layers[i].rate.Store(uint64(100_000 * (i + 1)))
		up.layers[i].last.Store(time.Now().Add(time.Hour).UnixNano())
	}
	d := newDownTrack(up, downLinks{batch: pool.batch, keyframes: up, log: up.log})
	d.writer.Store(&trackWriter{w: &countingWriter{}, ssrc: 1, pt: 96})
	up.addDown(d)
	next := func() []string {
		t.Helper()
		select {
		case e := <-events:
			return e.(*LayersWanted).RIDs
		case <-time.After(2 * time.Second):
			t.Fatal("no layers message")
			return nil
		}
	}
	return up, d, next
}

// The top layer is never paused before it has been seen: a browser starts
// it only once its estimate allows, seconds into the call.
func TestLayersWantedKeepsUnseenLayers(t *testing.T) {
	_, d, next := simulcastUp(t, 0, 1)
	d.setMaxSize(320, 180) // a small tile: q is enough
	var got []string
	for range 3 {
		if got = next(); slices.Equal(got, []string{"q", "f"}) || slices.Equal(got, []string{"q", "h", "f"}) {
			return
		}
	}
	t.Fatalf("the publisher was asked for %v, want f kept until seen", got)
}

// A tile that needs the top layer asks for it from its announced size and
// rate although it was never measured, and it is forwarded once it flows.
func TestTopLayerAskedBeforeMeasured(t *testing.T) {
	up, d, next := simulcastUp(t, 0, 1)
	up.setEncodings([]Encoding{
		{RID: "q", Width: 320, Height: 180, MaxBitrate: 150_000},
		{RID: "h", Width: 640, Height: 360, MaxBitrate: 500_000},
		{RID: "f", Width: 1280, Height: 720, MaxBitrate: 1_500_000},
	})
	d.setMaxSize(1260, 700)
	d.setEstimate(3_000_000)
	d.mu.Lock()
	target := d.target
	d.mu.Unlock()
	if target != 2 {
		t.Fatalf("target layer %d for a 1260x700 tile on 3 Mbit/s, want 2 (f)", target)
	}
	if got := up.bestLayer(2); got != 1 {
		t.Fatalf("while f has not arrived the best layer is %d, want 1 (h)", got)
	}
	// f arrives (the browser started it): it is now the one to forward.
	up.layers[2] = &upLayer{index: 2, rid: "f", cache: packetcache.New(8)}
	up.layers[2].last.Store(time.Now().UnixNano())
	if got := up.bestLayer(2); got != 2 {
		t.Fatalf("with f flowing the best layer is %d, want 2", got)
	}
	// An estimate that fits only h moves the target down; back up, f is
	// asked for again although it was paused meanwhile.
	d.setEstimate(800_000)
	if d.wantLayer.Load() != 1 {
		t.Fatalf("target %d on 800 kbit/s, want 1", d.wantLayer.Load())
	}
	up.layers[2].last.Store(time.Now().Add(-time.Minute).UnixNano()) // paused
	d.setEstimate(3_000_000)
	var got []string
	for range 4 {
		if got = next(); slices.Contains(got, "f") && d.wantLayer.Load() == 2 {
			return
		}
	}
	t.Fatalf("after the estimate recovered the publisher was asked for %v (target %d), want f", got, d.wantLayer.Load())
}

// A 620x345 tile (two people in a 1280x800 window) needs the 640x360
// layer, whichever index the publisher's ladder gives it.
func TestTileLayerFromAnnouncedSizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		encs []Encoding
		want int
	}{
		{"720p camera", []Encoding{{RID: "q", Width: 320, Height: 180}, {RID: "h", Width: 640, Height: 360}, {RID: "f", Width: 1280, Height: 720}}, 1},
		{"360p camera", []Encoding{{RID: "q", Width: 160, Height: 90}, {RID: "h", Width: 320, Height: 180}, {RID: "f", Width: 640, Height: 360}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, d, _ := simulcastUp(t, 0, 1, 2)
			up.setEncodings(tc.encs)
			d.setMaxSize(620, 345)
			if got := d.wantLayer.Load(); int(got) != tc.want {
				t.Errorf("layer %d, want %d", got, tc.want)
			}
		})
	}
}
