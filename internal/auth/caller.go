package auth

import (
	"context"
	"net/http"
	"slices"

	"github.com/inthreat/taxii-server/internal/store"
)

// Caller is the authenticated key behind a request.
type Caller struct {
	KeyID string
	Name  string
	Role  store.Role
	Feeds []string // feed ids the key is limited to; empty: every feed
	// Source is recorded on every version the key stores (store.KeySource).
	Source string
}

// CanRead reports whether the caller may see and read the feed. A feed it may
// not read is, to it, a feed that does not exist.
func (c *Caller) CanRead(feedID string) bool {
	if c == nil || !c.Role.Valid() {
		return false
	}
	return len(c.Feeds) == 0 || slices.Contains(c.Feeds, feedID)
}

// CanWrite reports whether the caller may add objects to the feed: a read-write
// or admin key on a writable feed it can read.
func (c *Caller) CanWrite(f store.Feed) bool {
	if c == nil || !f.Writable || !c.CanRead(f.ID) {
		return false
	}
	return c.Role == store.RoleReadWrite || c.Role == store.RoleAdmin
}

// Confined reports whether the caller may write only objects whose every stored
// version came from its own source: every writer but an admin.
func (c *Caller) Confined() bool { return !c.IsAdmin() }

// IsAdmin reports whether the caller may manage feeds and keys.
func (c *Caller) IsAdmin() bool { return c != nil && c.Role == store.RoleAdmin }

type callerKey struct{}

// NewContext returns ctx carrying c.
func NewContext(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// FromContext returns the caller in ctx, or nil when the request was not authenticated.
func FromContext(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// KeyID names the key that authenticated r, "" for none: what per-key
// admission (admit.KeyCap) counts by.
func KeyID(r *http.Request) string {
	if c := FromContext(r.Context()); c != nil {
		return c.KeyID
	}
	return ""
}
