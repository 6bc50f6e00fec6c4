package udpbatch

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendState holds the sendmmsg arguments of a Batch, built in place on
// every Flush so that sending allocates nothing.
type sendState struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec            // one per slot
	names []unix.RawSockaddrInet6 // one per message (a v4 address uses its start)
	ctrl  []byte                  // one UDP_SEGMENT control message per message
	off   int                     // first message the next call sends
	count int                     // messages in this flush
	sent  int
	errno syscall.Errno
	fn    func(fd uintptr) bool // b.sendmmsg, bound once
}

var cmsgSpace = unix.CmsgSpace(2)

func (st *sendState) init(slots int) {
	st.hdrs = make([]unix.Mmsghdr, slots)
	st.iovs = make([]unix.Iovec, slots)
	st.names = make([]unix.RawSockaddrInet6, slots)
	st.ctrl = make([]byte, slots*cmsgSpace)
}

// send sends b.plan. It uses RawSyscall: sendmmsg on a non-blocking
// socket never sleeps, and a plain Syscall would let the runtime hand the
// goroutine's P to another thread while the kernel delivers the batch
// (loopback delivery can take hundreds of microseconds), which costs a
// thread wake-up and a context switch on the way back, per batch.
func (b *Batch) send() {
	st := &b.sys
	if st.fn == nil {
		st.fn = b.sendmmsg
	}
	b.fill(0)
	st.count = len(b.plan)
	for st.off = 0; st.off < st.count; {
		st.sent, st.errno = 0, 0
		if err := b.s.rc.Write(st.fn); err != nil {
			b.stats.errors.Add(uint64(st.count - st.off))
			return
		}
		b.stats.syscalls.Add(1)
		for _, g := range b.plan[st.off : st.off+st.sent] {
			b.stats.datagrams.Add(uint64(g.count))
			if g.count > 1 {
				b.stats.gsoSends.Add(1)
				b.stats.gsoDatagrams.Add(uint64(g.count))
			}
		}
		b.stats.messages.Add(uint64(st.sent))
		st.off += st.sent
		if st.errno == 0 || st.off >= st.count {
			continue
		}
		// The message at st.off failed.
		if g := b.plan[st.off]; g.count > 1 {
			// Send the rest of this flush again without GSO; if the
			// kernel cannot segment on this socket at all, stop asking.
			b.stats.gsoFallbacks.Add(1)
			if gsoUnsupported(st.errno) {
				b.s.disableGSO()
			}
			rest := b.plan[st.off].start
			b.plan = planGroups(b.plan[:0], b.lens[rest:b.n], b.dsts[rest:b.n], false)
			for i := range b.plan {
				b.plan[i].start += rest
			}
			b.fill(0)
			st.off, st.count = 0, len(b.plan)
			continue
		}
		b.stats.errors.Add(1)
		st.off++
	}
}

// gsoUnsupported reports whether errno says the kernel cannot segment on
// this socket at all (EINVAL may also be about one datagram, so it only
// makes the one flush fall back).
func gsoUnsupported(errno syscall.Errno) bool {
	return errors.Is(errno, unix.EIO) || errors.Is(errno, unix.ENOPROTOOPT) || errors.Is(errno, unix.EOPNOTSUPP)
}

// sendmmsg is the RawConn.Write callback: false asks the runtime to wait
// until the socket is writable and call again.
func (b *Batch) sendmmsg(fd uintptr) bool {
	st := &b.sys
	n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&st.hdrs[st.off])), uintptr(st.count-st.off), 0, 0, 0)
	if e == unix.EAGAIN || e == unix.EWOULDBLOCK {
		return false
	}
	if e == unix.EINTR {
		return b.sendmmsg(fd)
	}
	if e != 0 {
		st.errno = e
		return true
	}
	st.sent = int(n)
	return true
}

// fill writes the message headers of b.plan from message from on.
func (b *Batch) fill(from int) {
	st := &b.sys
	for k := from; k < len(b.plan); k++ {
		g := b.plan[k]
		h := &st.hdrs[k].Hdr
		*h = unix.Msghdr{}
		for i := g.start; i < g.start+g.count; i++ {
			st.iovs[i].Base = &b.buf[i*SlotSize]
			st.iovs[i].SetLen(b.lens[i])
		}
		h.Iov = &st.iovs[g.start]
		h.SetIovlen(g.count)
		h.Name = (*byte)(unsafe.Pointer(&st.names[k]))
		h.Namelen = putSockaddr(&st.names[k], b.dsts[g.start], b.s.v6)
		if g.count > 1 {
			c := st.ctrl[k*cmsgSpace : (k+1)*cmsgSpace]
			cm := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
			cm.Level, cm.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			cm.SetLen(unix.CmsgLen(2))
			binary.NativeEndian.PutUint16(c[unix.CmsgLen(0):], uint16(g.seg))
			h.Control = &c[0]
			h.SetControllen(cmsgSpace)
		}
	}
}

// putSockaddr writes dst as the socket's address family wants it and
// returns its length.
func putSockaddr(sa *unix.RawSockaddrInet6, dst netip.AddrPort, v6 bool) uint32 {
	port := dst.Port()
	if !v6 {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.Addr().Unmap().As4()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:], port)
		return unix.SizeofSockaddrInet4
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: dst.Addr().As16()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], port)
	return unix.SizeofSockaddrInet6
}

func setDontFragment(rc syscall.RawConn, v6 bool) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		if v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DO)
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
	})
	if err != nil {
		return err
	}
	return serr
}

// probeGSO asks the kernel for the socket's UDP_SEGMENT option, which
// exists from Linux 4.18 on.
func probeGSO(rc syscall.RawConn) bool {
	ok := false
	_ = rc.Control(func(fd uintptr) {
		_, err := unix.GetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT)
		ok = err == nil
	})
	return ok
}
