package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// bindError is a listener of this command that could not bind, with the
// flag that moves it.
type bindError struct {
	flag string // without the dashes
	err  error
}

func (e *bindError) Error() string { return fmt.Sprintf("--%s: %v", e.flag, e.err) }
func (e *bindError) Unwrap() error { return e.err }

// listener is a port the server opens and the flag that sets it.
type listener struct {
	flag    string
	network string // "udp" or "tcp"
	port    int
}

// serverListeners are the ports server.New opens (SFU and TURN), for
// naming the flag when one of them is taken.
func serverListeners(c *config) []listener {
	o := c.Ops
	return []listener{
		{"udp-port", "udp", c.UDPPort}, {"ice-tcp-port", "tcp", o.ICETCPPort},
		{"turn-udp-port", "udp", o.TURNUDPPort}, {"turn-tcp-port", "tcp", o.TURNTCPPort}, {"turn-tls-port", "tcp", o.TURNTLSPort},
	}
}

// bindProblem turns a failure to bind a port into one line that names the
// flag to change and how; ok is false for any other error. A port opened
// by server.New is recognised by its network and number.
func bindProblem(err error, c *config) (line string, ok bool) {
	inUse, denied := errors.Is(err, syscall.EADDRINUSE), errors.Is(err, syscall.EACCES)
	if !inUse && !denied {
		return "", false
	}
	flagName := ""
	var be *bindError
	var op *net.OpError
	switch {
	case errors.As(err, &be):
		flagName = be.flag
	case errors.As(err, &op) && op.Addr != nil:
		network, port := addrPort(op.Addr)
		for _, l := range serverListeners(c) {
			if l.port != 0 && l.port == port && l.network == network {
				flagName = l.flag
				break
			}
		}
	}
	if flagName == "" {
		return "", false
	}
	what := "is taken (another meet running? `make run` in another terminal?)"
	if denied {
		what = "needs privileges (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
	}
	return fmt.Sprintf("--%s %s: the port %s; set --%s (or %s) to %s", flagName, flagValue(c, flagName), what, flagName, envOf(flagName), flagRemedy(flagName)), true
}

// addrPort is the network ("udp"/"tcp") and port of a listen address.
func addrPort(a net.Addr) (string, int) {
	switch a := a.(type) {
	case *net.UDPAddr:
		return "udp", a.Port
	case *net.TCPAddr:
		return "tcp", a.Port
	}
	return "", 0
}

// flagValue is the setting a flag has now, as the user would write it.
func flagValue(c *config, name string) string {
	for _, s := range c.Settings {
		if s.Name == name {
			return s.Value
		}
	}
	return ""
}

func envOf(name string) string {
	for _, o := range options() {
		if o.name == name {
			return o.env
		}
	}
	return ""
}

// flagRemedy says what to set a flag to instead.
func flagRemedy(name string) string {
	switch name {
	case "listen":
		return "another address, e.g. 127.0.0.1:8081"
	case "http-listen":
		return "another address"
	case "udp-port":
		return "another port, or 0 for a free one"
	case "metrics-listen":
		return "another address (127.0.0.1:0 takes a free port), or empty to turn metrics off"
	}
	return "another port, or 0 to turn it off"
}
