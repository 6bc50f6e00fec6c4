// Package simulcast describes the layers a publisher sends of one video
// track and picks the one a subscriber's tile needs.
//
// A publisher announces its layers (rid, size, target bit rate); where it
// does not, the layers named in its SDP are assumed to follow the usual
// ladder, each half the size of the next. The SFU then chooses from what a
// layer is announced to be, not only from what it has measured: a layer
// that is paused, or that the browser has not started yet, sends nothing to
// measure and would otherwise never be chosen.
package simulcast

// MaxLayers is the number of layers a track may have, lowest first.
const MaxLayers = 3

// Spec is what is known of one layer.
type Spec struct {
	Known   bool // the publisher sends, or may send, this layer
	RID     string
	Width   int    // pixels; 0 = not announced
	Height  int    // pixels; 0 = not announced
	Bitrate uint64 // target bits per second; 0 = not announced
}

// Default returns the assumed size and rate of layer i of a publisher that
// announced nothing: the web client's ladder for small rooms
// (docs/quality.md).
func Default(i int) Spec {
	switch i {
	case 0:
		return Spec{Width: 320, Height: 180, Bitrate: 150_000}
	case 1:
		return Spec{Width: 640, Height: 360, Bitrate: 500_000}
	case 2:
		return Spec{Width: 1280, Height: 720, Bitrate: 1_500_000}
	}
	return Spec{}
}

// Ladder is the specs of a track's layers, by index.
type Ladder [MaxLayers]Spec

// Top returns the highest known layer, or -1.
func (l *Ladder) Top() int {
	for i := MaxLayers - 1; i >= 0; i-- {
		if l[i].Known {
			return i
		}
	}
	return -1
}

// size returns layer i's size, falling back to the default ladder scaled
// from the nearest layer above with an announced size.
func (l *Ladder) size(i int) (w, h int) {
	if l[i].Width > 0 && l[i].Height > 0 {
		return l[i].Width, l[i].Height
	}
	for j := i + 1; j < MaxLayers; j++ {
		if l[j].Width > 0 && l[j].Height > 0 {
			shift := j - i
			return l[j].Width >> shift, l[j].Height >> shift
		}
	}
	d := Default(i)
	return d.Width, d.Height
}

// Bitrate returns layer i's target rate: announced, or the default.
func (l *Ladder) Bitrate(i int) uint64 {
	if i < 0 || i >= MaxLayers {
		return 0
	}
	if l[i].Bitrate > 0 {
		return l[i].Bitrate
	}
	return Default(i).Bitrate
}

// Cover is how much of a tile's width and height a layer must fill to be
// sharp enough there: a little upscaling is not visible.
const Cover = 0.85

// ForTile returns the lowest known layer that fills a tile of w×h device
// pixels, or the top layer when none does; 0 for a hidden tile (w or h 0),
// and -1 when no layer is known.
func (l *Ladder) ForTile(w, h int) int {
	top := l.Top()
	if top < 0 {
		return -1
	}
	if w <= 0 || h <= 0 {
		return l.lowest()
	}
	for i := 0; i <= top; i++ {
		if !l[i].Known {
			continue
		}
		lw, lh := l.size(i)
		if float64(lw) >= Cover*float64(w) && float64(lh) >= Cover*float64(h) {
			return i
		}
	}
	return top
}

func (l *Ladder) lowest() int {
	for i := range l {
		if l[i].Known {
			return i
		}
	}
	return -1
}
