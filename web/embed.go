// Package web serves the browser client of MonkeyThorn Meet: plain ES modules
// and CSS embedded in the binary, so the page loads nothing from another
// origin and needs no build step.
//
// The landing page is "/" and a call is "/r/<code>"; both are the same
// index.html, which reads the room code from location.pathname and the room
// key from location.hash (never sent to the server). Assets live under
// "/static/"; the noise suppressor's worklet and WebAssembly, copied from npm
// at build time (make vendor-web), live under "/vendor/noise/".
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	e2eeclient "github.com/monkeythorn/meet/e2ee-client"
)

//go:embed static
var static embed.FS

// vendor holds web/vendor/ when the build copied the noise suppressor there
// (make vendor-web). The pattern also matches the committed vendor.md, so the
// package compiles when the directory is missing (a plain "go build", or
// after make clean); the client then falls back to the browser's own
// noiseSuppression. "all:" keeps files whose names start with "_" or ".".
//
//go:embed all:vendor*
var vendor embed.FS

// VendorPrefix is the URL path the vendored files are served under.
const VendorPrefix = "/vendor/"

// ContentSecurityPolicy is sent with every HTML page. It allows nothing from
// another origin and no inline script or style; blob: media is needed for
// MediaStream previews in some browsers, and workers for the E2EE transform.
// 'wasm-unsafe-eval' lets the noise suppressor's AudioWorklet compile its
// WebAssembly (served by us, under /vendor/); it allows no JavaScript eval.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " +
	"img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; " +
	"worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentType is explicit rather than taken from the system MIME database,
// which differs between machines and may not know .js as JavaScript (a
// module script with the wrong type is refused by the browser).
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".json":
		return "application/json"
	case ".woff2":
		return "font/woff2"
	case ".wasm":
		return "application/wasm"
	}
	return "application/octet-stream"
}

// asset is one embedded file, read once when the handler is built.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// handler serves the embedded client from an immutable map built once.
type handler struct {
	assets map[string]asset // by URL path, e.g. "/static/js/main.js"
	index  asset
	e2ee   http.Handler // the E2EE library under e2eeclient.Prefix
}

// Handler returns the handler of the web client: "/" and "/r/<code>" (the
// page), "/static/..." (assets) and "/e2ee/..." (the E2EE library the page
// imports, from package e2eeclient). Directories are never listed; other
// paths are 404; methods other than GET and HEAD are 405.
func Handler() http.Handler {
	h := &handler{assets: map[string]asset{}, e2ee: e2eeclient.Handler()}
	err := addAssets(h.assets, static, "static", func(string) bool { return true })
	if err == nil {
		err = addAssets(h.assets, vendor, ".", servedVendorFile)
	}
	if err != nil {
		// The files are compiled in: failing to read them is a broken build.
		panic("web: reading embedded files: " + err.Error())
	}
	h.index = h.assets["/static/index.html"]
	return h
}

// addAssets reads every file under root of fsys that keep accepts into m,
// keyed by its URL path.
func addAssets(m map[string]asset, fsys fs.FS, root string, keep func(string) bool) error {
	return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !keep(p) {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		m["/"+p] = asset{body: body, contentType: contentType(p), etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
}

// servedVendorFile picks what the page loads from the copied npm package:
// its ES modules and WebAssembly under vendor/noise/, not its source maps,
// CommonJS builds or type declarations.
func servedVendorFile(p string) bool {
	if !strings.HasPrefix(p, "vendor/noise/") || strings.HasSuffix(p, ".d.ts") {
		return false
	}
	return strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".wasm")
}

// NoiseSuppressorEmbedded reports whether the binary carries the noise
// suppressor (built with make vendor-web); without it the page falls back
// to the browser's noiseSuppression constraint.
func NoiseSuppressorEmbedded() bool {
	_, err := fs.Stat(vendor, "vendor/noise/index.js")
	return err == nil
}

// FileNames lists the embedded asset URL paths; tests use it to check that
// every file a page references exists.
func FileNames() []string {
	var out []string
	_ = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, "/"+p)
		}
		return nil
	})
	return out
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/" || isRoomPath(p):
		h.serve(w, r, h.index, true)
	case strings.HasPrefix(p, e2eeclient.Prefix):
		h.e2ee.ServeHTTP(w, r)
	case strings.HasPrefix(p, "/static/") && p != "/static/index.html" || strings.HasPrefix(p, VendorPrefix):
		a, ok := h.assets[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.serve(w, r, a, false)
	default:
		http.NotFound(w, r)
	}
}

// isRoomPath reports whether p is "/r/<code>" with one plausible code
// segment. The code itself is checked by the API; this only keeps
// "/r/a/b" and the like from looking like a page.
func isRoomPath(p string) bool {
	code, ok := strings.CutPrefix(p, "/r/")
	if !ok || code == "" || len(code) > 64 {
		return false
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, a asset, page bool) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("X-Content-Type-Options", "nosniff")
	// Assets change with every build and are small: revalidate each time
	// (cheap with the ETag) rather than risk a page running old modules.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", a.etag)
	if page {
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self)")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
