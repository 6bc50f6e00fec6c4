package rtpcodec

// maxREDBlocks bounds the older blocks a RED payload may carry; browsers
// send one or two.
const maxREDBlocks = 8

// REDPrimary returns the primary block of an RFC 2198 payload: what a
// subscriber without RED gets, as plain Opus. Under end-to-end encryption
// each block is sealed on its own and the block headers are clear
// (docs/e2ee.md §2.2.1), so the primary block is a whole encrypted frame. It
// reports false if the payload is not well-formed RED. It does not allocate.
func REDPrimary(p []byte) ([]byte, bool) {
	i, skip := 0, 0
	for blocks := 0; ; blocks++ {
		if i >= len(p) {
			return nil, false
		}
		if p[i]&0x80 == 0 {
			i++
			break
		}
		if i+4 > len(p) || blocks == maxREDBlocks {
			return nil, false
		}
		skip += int(p[i+2]&0x03)<<8 | int(p[i+3])
		i += 4
	}
	if i+skip > len(p) {
		return nil, false
	}
	return p[i+skip:], true
}
