package sfu

import "github.com/monkeythorn/meet/sfu/rtpcodec"

// picNumbers keeps the VP8 picture ids and TL0PICIDX a subscriber sees
// continuous across layer switches. Each simulcast layer numbers its
// pictures on its own: moved from one layer to another and back, a
// subscriber saw the picture id jump by hundreds, and Chrome's decoder,
// taking the pictures in between for missing, held its base-layer frames
// back as incomplete while every packet arrived. Video stalled 3 s, showed
// the key frame it then asked for and the three frames after it, and
// stalled again, for as long as the call lasted (docs/quality.md).
//
// The numbers of one layer go out shifted by a delta; at the key frame
// that starts a new layer the delta is chosen so that its numbers follow
// the last ones sent. Picture ids the publisher skipped stay skipped: a
// gap is how the decoder learns of a missing frame.
type picNumbers struct {
	started bool
	delta   picDelta
	lastPID uint16 // the newest picture id sent
	lastTL0 uint8  // the newest TL0PICIDX sent
}

// picDelta is what is added to a layer's numbers; each packet's delta is
// kept with it so that a retransmission carries the numbers first sent.
type picDelta struct {
	pid uint16
	tl0 uint8
}

// apply returns the numbers to send for a packet numbered n.
func (d picDelta) apply(n rtpcodec.VP8Numbers) (pid uint16, tl0 uint8) {
	return (n.PictureID + d.pid) & n.PictureIDMask(), n.TL0PicIdx + d.tl0
}

// next returns the numbers to send for n, the first packet of a new layer
// if switched, and records them as sent.
func (pn *picNumbers) next(n rtpcodec.VP8Numbers, switched bool) (pid uint16, tl0 uint8) {
	if switched && pn.started {
		pn.delta = picDelta{pid: pn.lastPID + 1 - n.PictureID, tl0: pn.lastTL0 + 1 - n.TL0PicIdx}
	}
	pid, tl0 = pn.delta.apply(n)
	if m := n.PictureIDMask(); n.HasPictureID() && (!pn.started || ahead(pid, pn.lastPID, m)) {
		pn.lastPID = pid
	}
	if n.HasTL0PicIdx() && (!pn.started || ahead(uint16(tl0), uint16(pn.lastTL0), 0xFF)) {
		pn.lastTL0 = tl0
	}
	pn.started = true
	return pid, tl0
}

// ahead reports whether a is newer than b in a counter that wraps at mask.
func ahead(a, b, mask uint16) bool {
	d := (a - b) & mask
	return d != 0 && d <= mask/2
}

// renumber returns payload, whose numbers n locates, with the subscriber's
// picture numbers: payload itself while they are the publisher's, else a
// copy in d.picBuf, which stays valid until the next packet. d.mu held;
// allocates nothing.
func (d *DownTrack) renumber(payload []byte, n rtpcodec.VP8Numbers, switched bool) ([]byte, picDelta) {
	pid, tl0 := d.pics.next(n, switched)
	if pid == n.PictureID && tl0 == n.TL0PicIdx || len(payload) > len(d.picBuf) {
		return payload, d.pics.delta
	}
	b := d.picBuf[:len(payload)]
	copy(b, payload)
	n.Put(b, pid, tl0)
	return b, d.pics.delta
}

// renumberResent gives a retransmitted payload (the DownTrack's own copy)
// the numbers it was first sent with.
func renumberResent(payload []byte, delta picDelta) {
	if delta == (picDelta{}) {
		return
	}
	if n, ok := rtpcodec.ParseVP8Numbers(payload); ok {
		pid, tl0 := delta.apply(n)
		n.Put(payload, pid, tl0)
	}
}
