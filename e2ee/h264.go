package e2ee

// H.264 (Annex B) handling: docs/e2ee.md §2.3. The RTP packetizer splits a
// frame at start codes, so the encrypted part must never contain one; the
// standard emulation prevention (insert 0x03 after 00 00 when the next byte
// is 0..3) guarantees that.

// appendH264Clear appends the clear part of an Annex B frame to dst with
// every start code written as 00 00 00 01, and returns where the protected
// part starts in frame. The clear part is every NAL unit before the first
// slice (types 1-5) plus that slice's header byte, or the first NAL header if
// there is no slice, or nothing if frame does not start with a start code.
// The canonical start codes make the additional data independent of the start
// code lengths a packetizer/depacketizer pair happens to use.
func appendH264Clear(dst, frame []byte) ([]byte, int) {
	// First pass: find the NAL header that ends the clear part.
	lastHdr, first := -1, -1
	prevHdr := -1
	for i := 0; i+2 < len(frame); i++ {
		if frame[i] != 0 || frame[i+1] != 0 || frame[i+2] != 1 {
			continue
		}
		hdr := i + 3
		if prevHdr < 0 {
			if !allZero(frame[:i]) {
				return dst, 0
			}
			if hdr >= len(frame) {
				return dst, 0
			}
			first = hdr
		}
		prevHdr = hdr
		i += 3 // resume after the NAL header: it never starts a start code
		if hdr >= len(frame) {
			break
		}
		if t := frame[hdr] & 0x1f; t >= 1 && t <= 5 {
			lastHdr = hdr
			break
		}
	}
	if first < 0 {
		return dst, 0
	}
	if lastHdr < 0 {
		lastHdr = first
	}
	// Second pass: copy NAL units up to lastHdr with canonical start codes.
	hdr := -1
	for i := 0; i+2 < len(frame) && hdr < lastHdr; i++ {
		if frame[i] != 0 || frame[i+1] != 0 || frame[i+2] != 1 {
			continue
		}
		if hdr >= 0 {
			// The previous NAL ends where this start code's zeros begin, but
			// never before the byte after its own header.
			end := i
			for end-1 > hdr && frame[end-1] == 0 {
				end--
			}
			dst = append(dst, frame[hdr:end]...)
		}
		dst = append(dst, 0, 0, 0, 1)
		hdr = i + 3
		i += 3 // resume after the NAL header: it never starts a start code
	}
	dst = append(dst, frame[lastHdr])
	return dst, lastHdr + 1
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// trailingZeros counts the zero bytes b ends with, up to 2: the escaper's
// state at the boundary, so no start code straddles clear and protected part.
func trailingZeros(b []byte) int {
	z := 0
	for i := len(b) - 1; i >= 0 && b[i] == 0 && z < 2; i-- {
		z++
	}
	return z
}

// escapeForward escapes buf[from:from+n] into buf starting at 0 and returns
// the escaped length. The writer never passes the reader because from is at
// least the number of bytes escaping can add.
func escapeForward(buf []byte, from, n, zeros int) int {
	w := 0
	for r := from; r < from+n; r++ {
		b := buf[r]
		if zeros >= 2 && b <= 3 {
			buf[w] = 3
			w++
			zeros = 0
		}
		buf[w] = b
		w++
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	if w > 0 && buf[w-1] == 0 {
		buf[w] = 3 // a NAL unit must not end in 0x00
		w++
	}
	return w
}

// unescapeAppend appends src without emulation prevention bytes and without
// the end pad. The pad is a final 0x03 after a 0x00: an authentic trailer
// ends with [12][key index], never with [0][3], so this is unambiguous.
func unescapeAppend(dst, src []byte, zeros int) []byte {
	start := len(dst)
	for _, b := range src {
		if zeros >= 2 && b == 3 {
			zeros = 0
			continue
		}
		dst = append(dst, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	if n := len(dst); n-start >= 2 && dst[n-1] == 3 && dst[n-2] == 0 {
		dst = dst[:n-1]
	}
	return dst
}
