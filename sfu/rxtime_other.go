//go:build !linux

package sfu

import (
	"errors"
	"net"
)

func enableRxTimestamps(*net.UDPConn) error { return errors.New("sfu: no receive timestamps here") }

func rxTimestamp([]byte) int64 { return 0 }
