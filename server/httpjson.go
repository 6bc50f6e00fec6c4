package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// writeJSON sends v with status. API answers may carry tokens: never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Code: code})
}

// readJSON decodes an optional (required=false) or required JSON body of at
// most maxBody bytes into v, and writes the error response itself when it
// fails: 413 for too large, 400 for anything malformed.
func readJSON(w http.ResponseWriter, r *http.Request, v any, required bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, "request body larger than 4096 bytes")
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, codeBadRequest, "could not read the request body")
		return false
	case len(body) == 0 && !required:
		return true
	case len(body) == 0:
		writeError(w, http.StatusBadRequest, codeBadRequest, "a JSON body is required")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "the body is not the expected JSON object")
		return false
	}
	return true
}

// onlyMethod answers 405 unless r uses method.
func onlyMethod(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, http.StatusMethodNotAllowed, codeMethod, "use "+method)
	return false
}
