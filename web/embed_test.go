package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

func TestHandlerRoutes(t *testing.T) {
	h := Handler()
	tests := []struct {
		method, path string
		status       int
		ctype        string // prefix
		contains     string
	}{
		{"GET", "/", 200, "text/html", `src="/static/js/main.js"`},
		{"HEAD", "/", 200, "text/html", ""},
		{"GET", "/r/abcdefghj", 200, "text/html", `<div id="app">`},
		{"GET", "/r/abc-DEF_123", 200, "text/html", ""},
		{"GET", "/static/js/main.js", 200, "text/javascript", "import"},
		{"GET", "/static/js/session.js", 200, "text/javascript", "RTCPeerConnection"},
		{"GET", "/static/css/app.css", 200, "text/css", ".tile"},
		{"GET", "/static/icon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/e2ee/e2ee.js", 200, "text/javascript", "class E2EE"},
		{"GET", "/e2ee/worker.js", 200, "text/javascript", "onrtctransform"},
		{"GET", "/e2ee/", 404, "", ""},
		{"GET", "/e2ee/test/", 404, "", ""},
		{"GET", "/e2ee/embed.go", 404, "", ""},
		{"POST", "/e2ee/e2ee.js", 405, "", ""},
		{"GET", "/static/", 404, "", ""},
		{"GET", "/static/js/", 404, "", ""},
		{"GET", "/static/js", 404, "", ""},
		{"GET", "/static/index.html", 404, "", ""},
		{"GET", "/static/../embed.go", 404, "", ""},
		{"GET", "/static/js/nope.js", 404, "", ""},
		{"GET", "/r/", 404, "", ""},
		{"GET", "/r/abc/def", 404, "", ""},
		{"GET", "/r/abc.def", 404, "", ""},
		{"GET", "/r/" + strings.Repeat("a", 65), 404, "", ""},
		{"GET", "/index.html", 404, "", ""},
		{"GET", "/embed.go", 404, "", ""},
		{"POST", "/", 405, "", ""},
		{"PUT", "/static/js/main.js", 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			res := get(t, h, tc.method, tc.path)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.ctype != "" && !strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) {
				t.Errorf("Content-Type %q, want %q", res.Header.Get("Content-Type"), tc.ctype)
			}
			if tc.contains != "" && !strings.Contains(string(body), tc.contains) {
				t.Errorf("body does not contain %q", tc.contains)
			}
			if tc.status == 200 && res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("missing X-Content-Type-Options: nosniff")
			}
		})
	}
}

func TestPageHeaders(t *testing.T) {
	res := get(t, Handler(), "GET", "/r/abcdefghj")
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	// 'wasm-unsafe-eval' (WebAssembly compilation for the noise suppressor)
	// is the one relaxation; JavaScript eval stays forbidden.
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(strings.ReplaceAll(csp, "'wasm-unsafe-eval'", ""), "unsafe-eval") {
		t.Errorf("CSP %q allows inline or eval", csp)
	}
	if !strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval';") {
		t.Errorf("CSP %q does not let the noise suppressor compile its WebAssembly", csp)
	}
	if res.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q", res.Header.Get("Referrer-Policy"))
	}
}

func TestETagRevalidation(t *testing.T) {
	h := Handler()
	res := get(t, h, "GET", "/static/js/main.js")
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req := httptest.NewRequest("GET", "/static/js/main.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("status %d with matching ETag, want 304", rec.Code)
	}
}

var (
	importRE   = regexp.MustCompile(`(?m)^\s*import\s[^'"]*['"]([^'"]+)['"]`)
	refRE      = regexp.MustCompile(`(?:src|href)="([^"]+)"`)
	externalRE = regexp.MustCompile(`(?i)(?:src|href)="(?:https?:)?//|@import\s+url\(\s*['"]?(?:https?:)?//|url\(\s*['"]?(?:https?:)?//`)
)

// TestReferencesResolve checks every asset a page or module names exists in
// the embedded tree, so a renamed file cannot ship a broken page.
func TestReferencesResolve(t *testing.T) {
	names := FileNames()
	h := Handler()
	for _, name := range names {
		res := get(t, h, "GET", name)
		if name == "/static/index.html" {
			res = get(t, h, "GET", "/")
		}
		body, _ := io.ReadAll(res.Body)
		var refs []string
		switch {
		case strings.HasSuffix(name, ".js"):
			for _, m := range importRE.FindAllStringSubmatch(string(body), -1) {
				refs = append(refs, resolve(name, m[1]))
			}
		case strings.HasSuffix(name, ".html"):
			for _, m := range refRE.FindAllStringSubmatch(string(body), -1) {
				refs = append(refs, m[1])
			}
		}
		for _, ref := range refs {
			if !slices.Contains(names, ref) {
				t.Errorf("%s references %s, which is not embedded", name, ref)
			}
		}
	}
}

func resolve(from, ref string) string {
	if strings.HasPrefix(ref, "/") {
		return ref
	}
	dir := from[:strings.LastIndex(from, "/")]
	for {
		switch {
		case strings.HasPrefix(ref, "./"):
			ref = ref[2:]
		case strings.HasPrefix(ref, "../"):
			ref = ref[3:]
			dir = dir[:strings.LastIndex(dir, "/")]
		default:
			return dir + "/" + ref
		}
	}
}

// TestNoInlineCodeOrThirdParties enforces what the CSP would otherwise
// break at run time: no inline scripts, styles or event handlers, and
// nothing loaded from another origin.
func TestNoInlineCodeOrThirdParties(t *testing.T) {
	h := Handler()
	for _, name := range FileNames() {
		target := name
		if name == "/static/index.html" {
			target = "/"
		}
		body, _ := io.ReadAll(get(t, h, "GET", target).Body)
		s := string(body)
		if externalRE.MatchString(s) {
			t.Errorf("%s loads something from another origin", name)
		}
		if strings.HasSuffix(name, ".html") {
			if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(s) && !strings.Contains(s, "<noscript>") {
				t.Errorf("%s has an inline script", name)
			}
			for _, bad := range []string{"<style", " style=", " onclick=", " onload=", "javascript:"} {
				if strings.Contains(s, bad) {
					t.Errorf("%s contains %q, which the CSP blocks", name, bad)
				}
			}
			for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(s, -1) {
				if !strings.Contains(m, `src="/`) {
					t.Errorf("%s: script tag %s has no same-origin src", name, m)
				}
			}
		}
		if strings.HasSuffix(name, ".js") {
			for _, bad := range []string{"innerHTML", "eval(", "new Function", "document.write"} {
				if strings.Contains(s, bad) {
					t.Errorf("%s uses %s", name, bad)
				}
			}
		}
	}
}

// TestKeyStaysInFragment guards the promise that the room key never reaches
// the server: the modules that talk to the server must not read
// location.hash, and only link.js and main.js may parse it.
func TestKeyStaysInFragment(t *testing.T) {
	h := Handler()
	for _, name := range []string{"/static/js/api.js", "/static/js/session.js", "/static/js/call.js"} {
		body, _ := io.ReadAll(get(t, h, "GET", name).Body)
		if strings.Contains(string(body), "location.hash") || regexp.MustCompile(`\.key\b|linkKey|setKey`).Match(body) {
			t.Errorf("%s touches the link key", name)
		}
	}
}

// TestVendorFiles: the noise suppressor copied from npm is served under
// /vendor/noise/ (only what the page loads), and nothing else from web/ leaks
// out through the vendor pattern. Without make vendor-web the files are
// simply absent (404) and the binary still works.
func TestVendorFiles(t *testing.T) {
	h := Handler()
	always := []struct {
		path   string
		status int
	}{
		{"/vendor/", 404},
		{"/vendor/noise/", 404},
		{"/vendor.md", 404},
		{"/vendor/vendor.md", 404},
		{"/vendor/noise/index.d.ts", 404},
		{"/vendor/noise/index.js.map", 404},
		{"/vendor/noise/index.cjs", 404},
		{"/vendor/../embed.go", 404},
	}
	for _, tc := range always {
		if res := get(t, h, "GET", tc.path); res.StatusCode != tc.status {
			t.Errorf("GET %s: status %d, want %d", tc.path, res.StatusCode, tc.status)
		}
	}
	if !NoiseSuppressorEmbedded() {
		if res := get(t, h, "GET", "/vendor/noise/index.js"); res.StatusCode != 404 {
			t.Errorf("no vendored files, yet /vendor/noise/index.js is %d", res.StatusCode)
		}
		t.Log("built without make vendor-web: checked the fallback only")
		return
	}
	for _, tc := range []struct{ path, ctype, contains string }{
		{"/vendor/noise/index.js", "text/javascript", "RnnoiseWorkletNode"},
		{"/vendor/noise/rnnoise/workletProcessor.js", "text/javascript", "registerProcessor"},
		{"/vendor/noise/rnnoise.wasm", "application/wasm", "\x00asm"},
		{"/vendor/noise/rnnoise_simd.wasm", "application/wasm", "\x00asm"},
	} {
		res := get(t, h, "GET", tc.path)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("GET %s: %d %q, want 200 %s", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.ctype)
		}
		if !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
	}
}

func TestServedVendorFile(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"vendor/noise/index.js", true},
		{"vendor/noise/rnnoise.wasm", true},
		{"vendor/noise/rnnoise/workletProcessor.js", true},
		{"vendor/noise/index.js.map", false},
		{"vendor/noise/index.d.ts", false},
		{"vendor/noise/index.cjs", false},
		{"vendor/other/x.js", false},
		{"vendor.md", false},
	} {
		if got := servedVendorFile(tc.path); got != tc.want {
			t.Errorf("servedVendorFile(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}
