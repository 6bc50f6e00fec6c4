package simulcast

import "testing"

func ladder(specs ...Spec) Ladder {
	var l Ladder
	copy(l[:], specs)
	return l
}

var (
	q720 = Spec{Known: true, RID: "q", Width: 320, Height: 180, Bitrate: 150_000}
	h720 = Spec{Known: true, RID: "h", Width: 640, Height: 360, Bitrate: 500_000}
	f720 = Spec{Known: true, RID: "f", Width: 1280, Height: 720, Bitrate: 1_500_000}
)

func TestForTile(t *testing.T) {
	three := ladder(q720, h720, f720)
	for _, tc := range []struct {
		name string
		l    Ladder
		w, h int
		want int
	}{
		{"hidden", three, 0, 0, 0},
		{"thumbnail", three, 160, 90, 0},
		{"two people at 1280x800", three, 620, 345, 1},
		{"just over the middle layer", three, 760, 430, 2},
		{"full window, DPR 2", three, 2560, 1440, 2},
		{"portrait phone tile", three, 400, 700, 2},
		{"nothing known", Ladder{}, 640, 360, -1},
		{"single layer", ladder(Spec{Known: true}), 1920, 1080, 0},
		// Sizes not announced: the default ladder (180/360/720).
		{"rids only", ladder(Spec{Known: true, RID: "q"}, Spec{Known: true, RID: "h"}, Spec{Known: true, RID: "f"}), 620, 345, 1},
		// Only the top announced: the others are halves of it.
		{"top announced", ladder(Spec{Known: true}, Spec{Known: true}, Spec{Known: true, Width: 640, Height: 360}), 300, 170, 1},
		// A 640x360 camera: its top layer is what a 620x345 tile needs.
		{"small camera", ladder(Spec{Known: true, Width: 160, Height: 90}, Spec{Known: true, Width: 320, Height: 180}, Spec{Known: true, Width: 640, Height: 360}), 620, 345, 2},
		{"top layer missing", ladder(q720, h720), 1280, 720, 1},
		{"lowest missing", ladder(Spec{}, h720, f720), 100, 50, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.l.ForTile(tc.w, tc.h); got != tc.want {
				t.Errorf("ForTile(%d, %d) = %d, want %d", tc.w, tc.h, got, tc.want)
			}
		})
	}
}

func TestBitrate(t *testing.T) {
	l := ladder(Spec{Known: true, Bitrate: 90_000}, Spec{Known: true})
	for _, tc := range []struct {
		i    int
		want uint64
	}{{0, 90_000}, {1, 500_000}, {2, 1_500_000}, {3, 0}, {-1, 0}} {
		if got := l.Bitrate(tc.i); got != tc.want {
			t.Errorf("Bitrate(%d) = %d, want %d", tc.i, got, tc.want)
		}
	}
	if got := l.Top(); got != 1 {
		t.Errorf("Top() = %d, want 1", got)
	}
}
