package rtpcodec

// VP8Numbers locates the picture id and TL0PICIDX of a VP8 payload
// descriptor (RFC 7741 §4.2). Each simulcast layer numbers its pictures on
// its own, so a subscriber moved from one layer to another sees these
// jump; the SFU rewrites them (Put) to keep them continuous.
type VP8Numbers struct {
	PictureID uint16 // 7 or 15 bits, as the descriptor has it
	TL0PicIdx uint8
	pidAt     uint8 // offset of the picture id; 0: absent
	tl0At     uint8 // offset of TL0PICIDX; 0: absent
	long      bool  // 15-bit picture id
}

// HasPictureID and HasTL0PicIdx report which fields the descriptor holds.
func (n VP8Numbers) HasPictureID() bool { return n.pidAt != 0 }
func (n VP8Numbers) HasTL0PicIdx() bool { return n.tl0At != 0 }

// PictureIDMask is the largest picture id the descriptor can hold.
func (n VP8Numbers) PictureIDMask() uint16 {
	if n.long {
		return 0x7FFF
	}
	return 0x7F
}

// ParseVP8Numbers reads the picture id and TL0PICIDX of payload; false if
// the descriptor is truncated.
func ParseVP8Numbers(p []byte) (n VP8Numbers, ok bool) {
	if len(p) < 1 {
		return n, false
	}
	if p[0]&0x80 == 0 { // X: no extension, nothing to number
		return n, true
	}
	if len(p) < 2 {
		return n, false
	}
	ext, i := p[1], 2
	if ext&0x80 != 0 { // I
		if len(p) <= i {
			return VP8Numbers{}, false
		}
		n.pidAt = uint8(i)
		if p[i]&0x80 != 0 { // M
			if len(p) <= i+1 {
				return VP8Numbers{}, false
			}
			n.long = true
			n.PictureID = uint16(p[i]&0x7F)<<8 | uint16(p[i+1])
			i += 2
		} else {
			n.PictureID = uint16(p[i])
			i++
		}
	}
	if ext&0x40 != 0 { // L
		if len(p) <= i {
			return VP8Numbers{}, false
		}
		n.tl0At = uint8(i)
		n.TL0PicIdx = p[i]
	}
	return n, true
}

// Put writes pid and tl0 over the fields n was parsed from in p, which
// must be a copy of that payload: the forwarded payload is shared by every
// subscriber. Fields the descriptor lacks are left alone.
func (n VP8Numbers) Put(p []byte, pid uint16, tl0 uint8) {
	if n.pidAt != 0 {
		if n.long {
			p[n.pidAt] = 0x80 | byte(pid>>8)&0x7F
			p[n.pidAt+1] = byte(pid)
		} else {
			p[n.pidAt] = byte(pid) & 0x7F
		}
	}
	if n.tl0At != 0 {
		p[n.tl0At] = tl0
	}
}
