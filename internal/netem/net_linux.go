package netem

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Net is two network namespaces joined by an emulated link: Server's side
// (the meeting server and anyone with a perfect network) and Client's (a
// participant behind the link). Down shapes what goes from Server to
// Client, Up the other way.
type Net struct {
	Server, Client     string // namespace names
	ServerIP, ClientIP net.IP
	Down, Up           *Link

	tuns []*os.File
	wg   sync.WaitGroup
	stop chan struct{}
	once sync.Once
}

// Available reports why namespaces and TUN devices cannot be made here, or
// nil: they need root, /dev/net/tun and ip(8).
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("netem: needs root (network namespaces, TUN devices)")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("netem: %w", err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("netem: ip(8) not found (Debian package iproute2): %w", err)
	}
	return nil
}

// New makes the two namespaces and the link, both directions open. Close
// removes everything.
func New() (*Net, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	// A /30 of our own inside 10/8, used only inside the two namespaces.
	n := &Net{
		Server: "meetq-s-" + id, Client: "meetq-c-" + id,
		ServerIP: net.IPv4(10, 213, b[0], b[1]&0xfc|1).To4(),
		ClientIP: net.IPv4(10, 213, b[0], b[1]&0xfc|2).To4(),
		Down:     NewLink(Shape{}, uint64(b[2])),
		Up:       NewLink(Shape{}, uint64(b[2])+1),
		stop:     make(chan struct{}),
	}
	if err := n.setup(id); err != nil {
		n.Close()
		return nil, err
	}
	n.wg.Add(2)
	go n.relay(n.tuns[0], n.tuns[1], n.Down, n.ClientIP)
	go n.relay(n.tuns[1], n.tuns[0], n.Up, n.ServerIP)
	return n, nil
}

func (n *Net) setup(id string) error {
	for _, ns := range []string{n.Server, n.Client} {
		if err := ip("netns", "add", ns); err != nil {
			return err
		}
	}
	ends := []struct {
		ns        string
		tun       string
		self, far net.IP
	}{
		{n.Server, "mqs" + id, n.ServerIP, n.ClientIP},
		{n.Client, "mqc" + id, n.ClientIP, n.ServerIP},
	}
	for _, e := range ends {
		f, err := openTUN(e.tun)
		if err != nil {
			return err
		}
		n.tuns = append(n.tuns, f)
		steps := [][]string{
			{"link", "set", e.tun, "netns", e.ns},
			{"-n", e.ns, "link", "set", "lo", "up"},
			{"-n", e.ns, "addr", "add", e.self.String() + "/32", "peer", e.far.String(), "dev", e.tun},
			{"-n", e.ns, "link", "set", e.tun, "up"},
			// Browsers look for the interface of the default route; it is
			// the TUN device, whose packets only the relay sees.
			{"-n", e.ns, "route", "add", "default", "dev", e.tun},
		}
		for _, s := range steps {
			if err := ip(s...); err != nil {
				return err
			}
		}
	}
	return nil
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netem: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// openTUN creates a TUN device (IP packets, no extra header) and returns
// its file; the device goes away when the file is closed.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("netem: open /dev/net/tun: %w", err)
	}
	var req [unix.IFNAMSIZ + 64]byte
	copy(req[:unix.IFNAMSIZ-1], name)
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("netem: TUNSETIFF %s: %w", name, errno)
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+name), nil
}

// relay moves IPv4 packets addressed to dst from one TUN device to the
// other through link, delivering each at the time the link says.
func (n *Net) relay(from, to *os.File, link *Link, dst net.IP) {
	defer n.wg.Done()
	type timed struct {
		at  time.Time
		pkt []byte
	}
	queue := make(chan timed, 8192)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for {
			var p timed
			select {
			case p = <-queue:
			case <-n.stop:
				return
			}
			if d := time.Until(p.at); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-n.stop:
					return
				}
			}
			_, _ = to.Write(p.pkt)
		}
	}()
	buf := make([]byte, 65536)
	for {
		k, err := from.Read(buf)
		if err != nil {
			return // closed
		}
		pkt := buf[:k]
		if k < 20 || pkt[0]>>4 != 4 || !net.IP(pkt[16:20]).Equal(dst) {
			continue // not for the other end: IPv6, or an address outside the pair
		}
		at, ok := link.Admit(k, time.Now())
		if !ok {
			continue
		}
		select {
		case queue <- timed{at, append([]byte(nil), pkt...)}:
		default: // the delivery queue is full: a drop like any other
		}
	}
}

// Close stops the relay and removes the namespaces and devices.
func (n *Net) Close() {
	n.once.Do(func() {
		close(n.stop)
		for _, f := range n.tuns {
			f.Close()
		}
		n.wg.Wait()
		for _, ns := range []string{n.Server, n.Client} {
			_ = ip("netns", "del", ns)
		}
	})
}

// Do runs fn on an OS thread inside namespace ns: the sockets it opens
// belong to ns for good, whichever thread uses them later. Goroutines fn
// starts do not run in ns.
func Do(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it ends with this goroutine rather
		// than go back to the scheduler in another namespace.
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- fmt.Errorf("netem: %w", err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netem: setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Forward listens on 127.0.0.1 of the test's own namespace and connects
// each connection to addr inside ns, so the test reaches a server or a
// browser's DevTools there. It stops when ctx ends.
func Forward(ctx context.Context, ns, addr string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	context.AfterFunc(ctx, func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var far net.Conn
				if err := Do(ns, func() (err error) {
					far, err = (&net.Dialer{Timeout: 5 * time.Second}).Dial("tcp", addr)
					return err
				}); err != nil {
					return
				}
				defer far.Close()
				stop := context.AfterFunc(ctx, func() { c.Close(); far.Close() })
				defer stop()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(far, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, far); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return ln.Addr().String(), nil
}

// Command runs name inside ns (ip netns exec).
func Command(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}
