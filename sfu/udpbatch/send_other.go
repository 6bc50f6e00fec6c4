//go:build !linux

package udpbatch

import "syscall"

// sendState is empty where there is no sendmmsg: each datagram is sent
// with its own system call.
type sendState struct{}

func (st *sendState) init(int) {}

func (b *Batch) send() {
	for _, g := range b.plan {
		for i := g.start; i < g.start+g.count; i++ {
			b.stats.syscalls.Add(1)
			if _, err := b.s.conn.WriteToUDPAddrPort(b.buf[i*SlotSize:i*SlotSize+b.lens[i]], b.dsts[i]); err != nil {
				b.stats.errors.Add(1)
				continue
			}
			b.stats.datagrams.Add(1)
			b.stats.messages.Add(1)
		}
	}
}

func setDontFragment(syscall.RawConn, bool) error { return nil }

func probeGSO(syscall.RawConn) bool { return false }
