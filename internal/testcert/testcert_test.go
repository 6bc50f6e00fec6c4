package testcert

import (
	"crypto/tls"
	"testing"
)

// TestLoopbackHandshake serves the certificate on 127.0.0.1 and checks a
// client trusting only the pool completes TLS for the IP and the DNS name,
// and that the PEM files load back.
func TestLoopbackHandshake(t *testing.T) {
	cert, pool := Loopback(t, 7, "meet.test")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	for _, name := range []string{"127.0.0.1", "meet.test"} {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Fatalf("handshake as %s: %v", name, err)
		}
		c.Close()
	}
	if _, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "127.0.0.1"}); err == nil {
		t.Fatal("a client without the pool trusted the certificate")
	}
	certFile, keyFile := WriteFiles(t, t.TempDir(), cert)
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
}
