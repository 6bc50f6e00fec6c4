//go:build !linux

package load

import (
	"errors"
	"net"
)

func enableGRO(*net.UDPConn) error { return errors.New("load: subscribers with UDP GRO need Linux") }

func groSegment([]byte) int { return 0 }
