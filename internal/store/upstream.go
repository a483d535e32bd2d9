package store

import (
	"context"
	"errors"
	"time"
)

// ErrLeaseLost means the caller no longer holds the lease of an upstream
// source (it expired and may have been claimed by another process): nothing
// was stored, and the caller stops pulling.
var ErrLeaseLost = errors.New("upstream source lease lost")

// Upstream is an upstream TAXII collection this server pulls from, with its
// schedule, its lease and what its runs did. Its Name is the provenance source
// of every version it stores.
type Upstream struct {
	ID           int64
	Name         string // unique
	URL          string // the collection's URL
	TAXIIVersion string // "2.1" or "2.0"
	User         string // Basic authentication, with Password
	Password     string
	Token        string   // Bearer authentication
	CAPEM        []byte   // extra trusted CA certificates (PEM), stored so every replica has them
	Insecure     bool     // TLS certificate not verified
	Types        []string // match[type]; empty: every type
	Interval     time.Duration
	AddedAfter   string // the first run's added_after; "" for everything
	Paused       bool
	RunNow       bool
	Watermark    string // the last committed position upstream ("" before the first page)
	LeaseOwner   string
	LeaseUntil   time.Time // zero: never leased
	NextRun      time.Time
	LastRun      time.Time // start of the last finished run
	LastSuccess  time.Time // end of the last run without error
	LastError    string
	LastErrorAt  time.Time
	LastCounts   UpstreamCounts // of the last finished run
	TotalCounts  UpstreamCounts
	Samples      []string // rejection reasons of the last run that had rejections
	Notes        []string // the upstream's oddities, from the last run
	CreatedAt    time.Time
}

// UpstreamCounts is what pulls did.
type UpstreamCounts struct {
	Pulled, Stored, Unchanged, Rejected, Converted int64
	Conflicting                                    int64 // same version, other content: the first stored stays
}

// Add returns the sum of c and d.
func (c UpstreamCounts) Add(d UpstreamCounts) UpstreamCounts {
	return UpstreamCounts{c.Pulled + d.Pulled, c.Stored + d.Stored, c.Unchanged + d.Unchanged,
		c.Rejected + d.Rejected, c.Converted + d.Converted, c.Conflicting + d.Conflicting}
}

// Lease identifies the holder of an upstream source's lease at a time.
type Lease struct {
	Owner string
	Now   time.Time // the holder's clock
	// Until extends the lease on a commit; zero keeps it as is.
	Until time.Time
}

// UpstreamRun is the record of one finished run.
type UpstreamRun struct {
	Started  time.Time
	Finished time.Time
	Counts   UpstreamCounts
	Err      string // "" on success
	Samples  []string
	Notes    []string
}

// Upstreams manages upstream sources and their leases. A source is pulled by
// one process at a time: the holder of its lease.
type Upstreams interface {
	// CreateUpstream stores u (ID and CreatedAt are set by the store; a zero
	// NextRun means due now) and returns it as stored. ErrConflict when the
	// name exists.
	CreateUpstream(ctx context.Context, u Upstream) (Upstream, error)
	// ListUpstreams returns every upstream source ordered by name.
	ListUpstreams(ctx context.Context) ([]Upstream, error)
	// GetUpstream finds a source by name. ErrNotFound when none.
	GetUpstream(ctx context.Context, name string) (Upstream, error)
	// PauseUpstream pauses (or resumes) a source: a paused source is never
	// claimed. ErrNotFound when none.
	PauseUpstream(ctx context.Context, name string, paused bool) error
	// RunUpstreamNow makes a source due at the next claim, whatever its
	// schedule. ErrNotFound when none.
	RunUpstreamNow(ctx context.Context, name string) error
	// DeleteUpstream removes a source (not the objects it stored). ErrNotFound when none.
	DeleteUpstream(ctx context.Context, name string) error
	// ClaimUpstream leases one due source (not paused, not leased at now, and
	// asked to run now or with NextRun <= now) to owner until now+lease and
	// returns it. Concurrent claimers, in any process, never get the same
	// source while its lease runs. ErrNotFound when none is due.
	ClaimUpstream(ctx context.Context, owner string, now time.Time, lease time.Duration) (Upstream, error)
	// CommitUpstreamPage stores objs under the source's provenance (as
	// AddObjects does) and sets its watermark, in one transaction, only while
	// l.Owner holds its lease at l.Now; it extends the lease to l.Until when
	// set. ErrLeaseLost, and nothing stored, otherwise.
	CommitUpstreamPage(ctx context.Context, id int64, l Lease, objs []Object, watermark string) ([]AddOutcome, error)
	// FinishUpstreamRun records a run of the lease holder, adds its counts to
	// the totals, releases the lease and schedules the next run at
	// r.Finished+Interval. ErrLeaseLost when owner no longer holds the lease
	// (the run is then not recorded).
	FinishUpstreamRun(ctx context.Context, id int64, owner string, r UpstreamRun) error
	// ReleaseUpstream gives back owner's lease of a run it stopped before the
	// end (the server shutting down), leaving the source due at once: another
	// replica then goes on from the last committed watermark without waiting for
	// the lease to lapse. ErrLeaseLost when owner no longer holds it.
	ReleaseUpstream(ctx context.Context, id int64, owner string) error
}
