package server

import (
	"net/http"

	"github.com/monkeythorn/meet/web"
)

// Security headers sent with every response, in one place so API answers,
// pages, assets and errors all carry them. The web package sets the same
// CSP on its pages itself (it is usable without this server); the value is
// shared from there so the two cannot drift apart.
const (
	// PermissionsPolicy lets only our own pages use the camera, microphone
	// and screen capture, and turns off the sensors a meeting never needs.
	PermissionsPolicy = "camera=(self), microphone=(self), display-capture=(self), " +
		"geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), midi=(), " +
		"accelerometer=(), gyroscope=(), magnetometer=(), interest-cohort=()"
	// HSTS tells browsers to use HTTPS only for a year. Sent only over
	// HTTPS the binary terminates: over plain HTTP it would be ignored, and
	// behind a proxy the proxy decides.
	HSTS = "max-age=31536000"
)

// securityHeaders sets the headers before the handler runs, so a handler
// may still override one (a page with a stricter policy, for example).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", web.ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Permissions-Policy", PermissionsPolicy)
		h.Set("X-Frame-Options", "DENY") // frame-ancestors for old browsers
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", HSTS)
		}
		next.ServeHTTP(w, r)
	})
}
