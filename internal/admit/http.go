package admit

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrOverloaded is the refusal of a request whose connection the server
// accepted over its connection cap (Conns); it answers 503 and closes.
var ErrOverloaded = errors.New("the server has as many connections open as it takes")

// KeyBusyError is the refusal of a request of a key that already has Max
// requests in progress (PerKey); it answers 429.
type KeyBusyError struct{ Max int }

func (e *KeyBusyError) Error() string {
	return fmt.Sprintf("this API key has %d requests in progress, the most one key may have", e.Max)
}

// Fail renders a refusal in the caller's own error format; the status comes
// from the one error table, which knows ErrOverloaded and *KeyBusyError.
type Fail func(http.ResponseWriter, *http.Request, error)

// ConnectionCap refuses, before they cost a key lookup, the requests of a
// connection accepted over the connection cap, and closes that connection.
// Every keyed API (TAXII, export) puts it before authentication.
func ConnectionCap(fail Fail) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !Overloaded(r.Context()) {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Connection", "close")
			fail(w, r, ErrOverloaded)
		})
	}
}

// KeyCap admits at most p.Max() requests of one key at a time, across every
// API that shares p, so that one client's stalled or parallel requests cannot
// take every connection, page buffer and database connection from the others.
// key names the authenticated key of r: KeyCap goes after authentication.
func KeyCap(p *PerKey, key func(*http.Request) string, fail Fail) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			release, ok := p.Acquire(key(r))
			if !ok {
				fail(w, r, &KeyBusyError{Max: p.Max()})
				return
			}
			defer release()
			next.ServeHTTP(w, r)
		})
	}
}
