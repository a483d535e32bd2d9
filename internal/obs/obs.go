// Package obs is the request's observation record: what the outer server middleware
// logs and counts once the response is written, filled in by inner code (auth, TAXII
// handlers) that does not know about logs or metrics. It has no dependencies and no globals.
package obs

import (
	"context"
	"net/http"
	"sync"
)

// Info describes one request. The server middleware creates it and puts it in the
// request context before anything else runs; inner code fills in what it learns
// through the setters. Every method is safe on a nil *Info (the request did not
// go through the middleware, as in unit tests), and safe for concurrent use.
type Info struct {
	requestID string // set once by the middleware
	client    string // client IP, after trusted-proxy resolution
	scheme    string // "http" or "https", as the client used
	host      string // host the client asked for

	mu         sync.Mutex
	keyID      string
	keyName    string
	feedID     string
	poll       bool
	addedAfter int64
	served     int
	imported   int
	rejected   int
	errID      string
	errCode    string
	errMsg     string
}

// Request is what the middleware knows about a request before handling it.
type Request struct {
	ID     string // request id, echoed as X-Request-Id
	Client string // client IP address
	Scheme string // "http" or "https" as seen by the client
	Host   string // host[:port] as seen by the client
}

// New starts the record of a request.
func New(r Request) *Info {
	return &Info{requestID: r.ID, client: r.Client, scheme: r.Scheme, host: r.Host}
}

type ctxKey struct{}

// NewContext returns ctx carrying info.
func NewContext(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, ctxKey{}, info)
}

// FromContext returns the request's record, or nil (whose methods do nothing).
func FromContext(ctx context.Context) *Info {
	i, _ := ctx.Value(ctxKey{}).(*Info)
	return i
}

// RequestID is the id of the request ctx belongs to, "" outside a request.
// Put it in error bodies so a user's report finds the log line.
func RequestID(ctx context.Context) string { return FromContext(ctx).RequestID() }

// BaseURL is scheme://host as the client reached the server: behind a trusted
// reverse proxy, the forwarded scheme and host; otherwise the connection's.
// Use it for absolute URLs when no public base URL is configured.
func BaseURL(r *http.Request) string {
	if i := FromContext(r.Context()); i != nil && i.scheme != "" && i.host != "" {
		return i.scheme + "://" + i.host
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// RequestID returns the request id.
func (i *Info) RequestID() string {
	if i == nil {
		return ""
	}
	return i.requestID
}

// Client returns the client IP address.
func (i *Info) Client() string {
	if i == nil {
		return ""
	}
	return i.client
}

// SetKey records the id and name of the API key that authenticated the request
// (never the secret). Called by the authentication middleware.
func (i *Info) SetKey(id, name string) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.keyID, i.keyName = id, name
	i.mu.Unlock()
}

// SetPoll marks the request as a poll of its feed (a page of objects, manifest
// records, export items or a blocklist), from addedAfter (µs; 0: from the start).
// Usage figures count polls and keep the last added_after asked.
func (i *Info) SetPoll(addedAfter int64) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.poll, i.addedAfter = true, addedAfter
	i.mu.Unlock()
}

// SetFeed records the feed (collection id) the request reads or writes,
// once the handler has found it and the caller may see it.
func (i *Info) SetFeed(id string) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.feedID = id
	i.mu.Unlock()
}

// AddServed counts STIX objects (or manifest records, or versions) written to the client.
func (i *Info) AddServed(n int) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.served += n
	i.mu.Unlock()
}

// AddImported counts objects an add request stored (or found already stored) and rejected.
func (i *Info) AddImported(imported, rejected int) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.imported += imported
	i.rejected += rejected
	i.mu.Unlock()
}

// SetError records the error a 4xx response carries (its error_id, code and the
// reason, which may name a key id but never key material), so the request's one log
// line says why it was refused.
func (i *Info) SetError(id, code, reason string) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.errID, i.errCode, i.errMsg = id, code, reason
	i.mu.Unlock()
}

// Snapshot is a copy of what inner code recorded.
type Snapshot struct {
	KeyID      string
	KeyName    string
	FeedID     string
	Poll       bool  // SetPoll was called
	AddedAfter int64 // of the poll, µs; 0: none
	Served     int
	Imported   int
	Rejected   int
	// The error recorded by SetError; "" when none.
	ErrorID, ErrorCode, Error string
}

// Snapshot returns what was recorded so far.
func (i *Info) Snapshot() Snapshot {
	if i == nil {
		return Snapshot{}
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return Snapshot{KeyID: i.keyID, KeyName: i.keyName, FeedID: i.feedID, Poll: i.poll, AddedAfter: i.addedAfter, Served: i.served, Imported: i.imported, Rejected: i.rejected,
		ErrorID: i.errID, ErrorCode: i.errCode, Error: i.errMsg}
}
