// Package admin manages feeds and API keys: Service holds every management rule
// (names, roles, filters, the default feed), and the CLI, the admin REST API and
// the web console all call it, so a rule is written once.
package admin

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// Options are the limits Service and the API apply. Defaults live in internal/config.
type Options struct {
	// ListLimit is the page size of a list when the caller gives none; MaxListLimit caps it.
	ListLimit    int
	MaxListLimit int
	// PreviewObjects is how many objects a feed's detail shows at most.
	PreviewObjects int
	// RotateGrace is how long a rotated key's old secret stays valid when the caller
	// names no grace; MaxRotateGrace caps any grace.
	RotateGrace    time.Duration
	MaxRotateGrace time.Duration
	// CountTimeout and CountMax bound the count of a filter not yet saved.
	CountTimeout time.Duration
	CountMax     int64
	// StatsTTL is how long a feed's counts are cached.
	StatsTTL time.Duration
	// AuditRetention is how long audit entries are kept, AuditMaxRows how many at most.
	AuditRetention time.Duration
	AuditMaxRows   int
	// MaxTemplateLength bounds a feed's custom export template (TAXII_EXPORT_MAX_TEMPLATE_LENGTH).
	MaxTemplateLength int
	// Imports are the limits of Import (imports.go).
	Imports ImportOptions
}

// Service is the one code path of every management action.
type Service struct {
	st    store.Store
	log   *zap.Logger
	now   func() time.Time
	opts  Options
	stats *statsCache
}

// NewService returns a Service over st. A nil log discards; a nil now is time.Now.
func NewService(st store.Store, log *zap.Logger, now func() time.Time, opts Options) *Service {
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, log: log, now: now, opts: opts, stats: &statsCache{ttl: opts.StatsTTL, m: map[string]cachedStats{}}}
}

// Options returns the limits the service was made with.
func (s *Service) Options() Options { return s.opts }

// Store returns the store the service manages, for read-only views built on it.
func (s *Service) Store() store.Store { return s.st }

// Actor is who performs an action, for the audit log: an admin key, or the CLI.
type Actor struct {
	KeyID   string // "" for the CLI
	Name    string // the key's name, or "cli"
	Address string // client address as the trusted-proxy rules resolve it; "" for the CLI
}

// CLI is the actor of command-line actions.
var CLI = Actor{Name: "cli"}

// ErrInvalid is the sentinel of input the caller must correct; the one error
// table (taxii.Classify) answers it 400.
var ErrInvalid = taxii.ErrInvalidInput

// Error is a management request refused for a reason the caller can act on.
// Err is the sentinel that decides the HTTP status through taxii.Classify:
// ErrInvalid, store.ErrNotFound or store.ErrConflict.
type Error struct {
	Err     error
	Message string // without the command's prefix: "--title must not be empty"
	Field   string // the input it is about, when one: "title", "feeds", "types"...
	// Candidates are the keys an ambiguous name could mean.
	Candidates []store.APIKey
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

func invalid(field, format string, args ...any) error {
	return &Error{Err: ErrInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &Error{Err: store.ErrNotFound, Message: fmt.Sprintf(format, args...)}
}

func conflict(field, format string, args ...any) error {
	return &Error{Err: store.ErrConflict, Field: field, Message: fmt.Sprintf(format, args...)}
}

// When formats a time for messages and tables: RFC 3339 in UTC, "-" for never.
func When(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// isNotFound reports whether err is the store's not found.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
