package taxii

import (
	"fmt"
	"net/http"
)

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

// statusTurn waits for one of the MaxStatusReads turns to read a status from
// the store: a reader holds a database connection, and on SQLite the stored
// text of the status (about 90 bytes an entry), so reads of large statuses at
// once are bounded, not refused.
func (h *handler) statusTurn(r *http.Request) (release func(), err error) {
	select {
	case h.statusReads <- struct{}{}:
		return func() { <-h.statusReads }, nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}
