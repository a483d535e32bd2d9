package taxii

import (
	"fmt"
	"net/http"

	"github.com/inthreat/taxii-server/internal/admit"
	"github.com/inthreat/taxii-server/internal/auth"
)

// connectionCap answers the requests of a connection the server accepted over
// its connection cap (admit.Conns) with 503, before they cost a key lookup, and
// closes the connection.
func (h *handler) connectionCap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !admit.Overloaded(r.Context()) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "close")
		h.fail(w, r, &apiError{status: http.StatusServiceUnavailable, code: "too_many_connections", retryAfter: 1,
			description: "The server has as many connections open as it takes; retry in a moment, or reuse a connection."})
	})
}

// keyCap admits at most MaxRequestsPerKey requests of one API key at a time
// (429 past it), so that one client's stalled or parallel requests cannot take
// every connection, page buffer and database connection from the others.
func (h *handler) keyCap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := auth.FromContext(r.Context())
		release, ok := h.perKey.Acquire(c.KeyID)
		if !ok {
			h.fail(w, r, &apiError{status: http.StatusTooManyRequests, code: "too_many_requests", retryAfter: 1,
				description: fmt.Sprintf("This API key has %d requests in progress, the most one key may have; retry once one of them is done.", h.perKey.Max())})
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// admitBody takes the bytes of an Add Objects body from the server-wide budget
// (MaxAddBytes), the whole max_content_length when the client did not say, or
// refuses the request with 503. What a request costs (its outcomes in memory,
// its spool in memory or on disk, its CPU) grows with its body, so this bounds
// what concurrent writers can take.
func (h *handler) admitBody(r *http.Request) (release func(), err error) {
	n := r.ContentLength
	if n < 0 {
		n = h.opts.MaxContentLength
	}
	if !h.adds.TryAcquire(n) {
		return nil, &apiError{status: http.StatusServiceUnavailable, code: "too_many_bytes_in_flight", retryAfter: 5,
			description: fmt.Sprintf("The server is processing as many Add Objects bytes as it takes at once (%d); retry in a few seconds.", h.adds.Capacity())}
	}
	return func() { h.adds.Release(n) }, nil
}

// statusTurn waits for one of the MaxStatusReads turns to read a status: a
// status of 100,000 entries takes tens of MB to decode and encode, so reads of
// large statuses at once are bounded, not refused.
func (h *handler) statusTurn(r *http.Request) (release func(), err error) {
	select {
	case h.statusReads <- struct{}{}:
		return func() { <-h.statusReads }, nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}
