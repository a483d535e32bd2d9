package sources

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/ingest"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// Report is what one run of one source did, for logs and metrics.
type Report struct {
	Source   string
	Stats    Stats
	Duration time.Duration
	// Lag is now minus the watermark after the run; -1 when unknown (no
	// watermark yet, or one that does not parse).
	Lag time.Duration
	Err error
}

// Runner pulls the upstream sources of a store: every Every it claims the
// sources due, one at a time, and pulls each under its lease. Replicas run one
// each; the lease keeps them from pulling one source together.
type Runner struct {
	Store store.Store
	// Validator returns the shared STIX validator; called at the first run, as
	// compiling one is costly and most servers have no source.
	Validator func() (*stix.Validator, error)
	Owner     string        // this process, in the leases it takes
	Every     time.Duration // how often due sources are looked for
	Lease     time.Duration // how long a claim or a commit holds the source
	Timeout   time.Duration // of one upstream request
	Retry     Retry
	Log       *zap.Logger
	// Observe, when set, gets every run's report (metrics).
	Observe func(Report)
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Run pulls due sources until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	t := time.NewTicker(r.Every)
	defer t.Stop()
	for {
		r.RunDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunDue pulls every source due now, one after the other, and returns how
// many it ran.
func (r *Runner) RunDue(ctx context.Context) int {
	n := 0
	for ctx.Err() == nil {
		u, err := r.Store.ClaimUpstream(ctx, r.Owner, r.now(), r.Lease)
		if errors.Is(err, store.ErrNotFound) {
			return n
		}
		if err != nil {
			if ctx.Err() == nil {
				r.Log.Warn("claim an upstream source", zap.Error(err))
			}
			return n
		}
		r.runOne(ctx, u)
		n++
	}
	return n
}

// releaseTimeout bounds giving a lease back while the server stops.
const releaseTimeout = 5 * time.Second

// runOne pulls u from its watermark and records the run.
func (r *Runner) runOne(ctx context.Context, u store.Upstream) {
	start := r.now()
	st, err := r.pull(ctx, u)
	if ctx.Err() != nil {
		// Shutting down: the lease is given back, so that another replica goes
		// on at once from the last committed watermark (were this one killed
		// instead, the lease would lapse after TAXII_SOURCE_LEASE).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if err := r.Store.ReleaseUpstream(rctx, u.ID, r.Owner); err != nil {
			r.Log.Warn("release an upstream source's lease", zap.String("source", u.Name), zap.Error(err))
		}
		return
	}
	rep := Report{Source: u.Name, Stats: st, Duration: r.now().Sub(start), Lag: -1, Err: err}
	if wm, perr := time.Parse(time.RFC3339Nano, st.Watermark); perr == nil {
		rep.Lag = max(r.now().Sub(wm), 0)
	}
	run := store.UpstreamRun{Started: start, Finished: r.now(), Samples: st.Samples, Notes: st.Notes,
		Counts: store.UpstreamCounts{Pulled: int64(st.Pulled), Stored: int64(st.Stored), Unchanged: int64(st.Unchanged), Conflicting: int64(st.Conflicting),
			Rejected: int64(st.Rejected), Converted: int64(st.Converted)}}
	if err != nil {
		run.Err = err.Error()
	}
	if ferr := r.Store.FinishUpstreamRun(ctx, u.ID, r.Owner, run); ferr != nil && err == nil {
		rep.Err = fmt.Errorf("record the run: %w", ferr)
	}
	fields := []zap.Field{zap.String("source", u.Name), zap.Int("pulled", st.Pulled), zap.Int("stored", st.Stored),
		zap.Int("unchanged", st.Unchanged), zap.Int("conflicting", st.Conflicting), zap.Int("rejected", st.Rejected), zap.Int("converted", st.Converted),
		zap.Duration("duration", rep.Duration), zap.String("watermark", st.Watermark)}
	if rep.Err != nil {
		r.Log.Warn("source run failed", append(fields, zap.Error(rep.Err))...)
	} else {
		r.Log.Info("source run", fields...)
	}
	if r.Observe != nil {
		r.Observe(rep)
	}
}

func (r *Runner) pull(ctx context.Context, u store.Upstream) (Stats, error) {
	wm := u.Watermark
	if wm == "" {
		wm = u.AddedAfter
	}
	hc, err := HTTPClientPEM(u.CAPEM, u.Insecure, r.Timeout)
	if err != nil {
		return Stats{Watermark: wm}, fmt.Errorf("CA certificates: %w", err)
	}
	c, err := NewClient(Upstream{URL: u.URL, Version: u.TAXIIVersion, User: u.User, Password: u.Password,
		Token: u.Token, Types: u.Types}, hc)
	if err != nil {
		return Stats{Watermark: wm}, err
	}
	v, err := r.Validator()
	if err != nil {
		return Stats{Watermark: wm}, err
	}
	in, err := ingest.New(r.Store, v, ingest.Options{Source: u.Name})
	if err != nil {
		return Stats{Watermark: wm}, err
	}
	p := &Puller{Client: c, Retry: r.Retry, Sink: &storeSink{r: r, in: in, id: u.ID}}
	return p.Run(ctx, wm)
}

// storeSink commits pages through ingest (validation, provenance, per-object
// reasons) into the store, with the watermark, under the runner's lease.
type storeSink struct {
	r  *Runner
	in *ingest.Ingester
	id int64
}

func (s *storeSink) Commit(ctx context.Context, objs [][]byte, watermark string) (Counts, error) {
	items := make([]ingest.Item, len(objs))
	for i, o := range objs {
		items[i] = ingest.Item{Raw: o}
	}
	now := s.r.now()
	lease := store.Lease{Owner: s.r.Owner, Now: now, Until: now.Add(s.r.Lease)}
	outs, err := s.in.StoreWith(ctx, s.in.Check(items), func(ctx context.Context, objs []store.Object) ([]store.AddOutcome, error) {
		return s.r.Store.CommitUpstreamPage(ctx, s.id, lease, objs, watermark)
	})
	if err != nil {
		return Counts{}, err
	}
	var c Counts
	t := ingest.Counts(outs)
	c.Stored, c.Unchanged, c.Conflicting, c.Rejected = t.Imported, t.Unchanged, t.Conflicting, t.Rejected
	for _, o := range outs {
		// A conflict is a sample too: the upstream changed a version without a new modified.
		if (o.Result == ingest.Rejected || o.Result == ingest.Conflicting) && len(c.Samples) < maxSamples {
			c.Samples = append(c.Samples, o.ID+": "+o.Reason)
		}
	}
	return c, nil
}
