// Package e2eeclient embeds the browser side of MonkeyThorn Meet's
// end-to-end encryption (the ES modules next to this file and their worker)
// so the server can serve them from its own origin under /e2ee/.
package e2eeclient

import (
	"bytes"
	"embed"
	"net/http"
	"path"
	"strings"
	"time"
)

// FS holds the library's modules at its root: keys.js, e2ee.js, worker.js
// and the rest. Tests and test vectors are not included.
//
//go:embed *.js
var FS embed.FS

// Prefix is the URL path the web client loads the library from.
const Prefix = "/e2ee/"

// Handler serves FS under Prefix ("/e2ee/e2ee.js"): module files only, with
// a JavaScript content type (module scripts and module workers are refused
// with any other), no directory listings, GET and HEAD only.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if !ok || name == "" || strings.Contains(name, "/") || path.Ext(name) != ".js" {
			http.NotFound(w, r)
			return
		}
		body, err := FS.ReadFile(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
	})
}
