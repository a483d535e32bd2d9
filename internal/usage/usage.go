// Package usage counts what each API key asks of each feed (requests, polls,
// objects and bytes served, the last poll and its added_after) per hour, and
// adds the counts to the store in the background. The request path only
// touches memory: see Recorder.Record.
package usage

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/store"
)

// Event is one answered request of an authenticated key.
type Event struct {
	KeyID  string
	FeedID string    // "": the request was about no one feed
	At     time.Time // when it ended
	// Poll marks a page of objects, manifest records, export items or a
	// blocklist; AddedAfter is what it asked from (µs; 0: from the start).
	Poll       bool
	AddedAfter int64
	Objects    int64 // objects (records, items, entries) served
	Bytes      int64 // response body bytes
}

// Options configure a Recorder; the configuration owns their defaults and maxima.
type Options struct {
	// MaxEntries bounds the (key, feed, hour) counters held between flushes.
	// Past it, events of new entries are added to the overflow row of their
	// hour (store.UsageOverflowKey) and logged at the next flush: totals stay
	// right, only their attribution is lost, and memory stays bounded.
	MaxEntries int
	FlushEvery time.Duration // how often the counters are added to the store
	Retention  time.Duration // rows of older hours are deleted
	// FinalFlushTimeout bounds the last flush once Run's context ends.
	FinalFlushTimeout time.Duration
	Now               func() time.Time // nil: time.Now
}

// entry names one counter: a key on a feed during one hour (Unix hours).
type entry struct {
	keyID, feedID string
	hour          int64
}

type counts struct {
	requests, polls, objects, bytes int64
	lastPoll                        int64 // µs; 0: none
	lastAddedAfter                  int64
}

// Recorder aggregates events in memory and flushes them to the store.
// A nil *Recorder records nothing.
type Recorder struct {
	st   store.Usage
	log  *zap.Logger
	opts Options

	// One mutex around one map: Record holds it for a lookup and a few
	// additions (tens of nanoseconds, BenchmarkRecord), far below anything a
	// request does, so neither sharding nor atomics would show.
	mu         sync.Mutex
	m          map[entry]*counts
	overflowed int64 // events added to the overflow row since the last flush

	full chan struct{} // wakes the flusher early when the table is full
}

// New returns a Recorder that flushes into st.
func New(st store.Usage, opts Options, log *zap.Logger) (*Recorder, error) {
	if st == nil {
		return nil, errors.New("usage: nil store")
	}
	if opts.MaxEntries < 1 || opts.FlushEvery <= 0 || opts.Retention < time.Hour || opts.FinalFlushTimeout <= 0 {
		return nil, errors.New("usage: max entries, flush interval, retention (an hour at least) and final flush timeout must be positive")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Recorder{st: st, log: log, opts: opts, m: make(map[entry]*counts), full: make(chan struct{}, 1)}, nil
}

// Record counts one event. It never blocks on I/O and allocates only for
// a new (key, feed, hour); the database sees the event at the next flush.
func (r *Recorder) Record(e Event) {
	if r == nil || e.KeyID == "" {
		return
	}
	k := entry{keyID: e.KeyID, feedID: e.FeedID, hour: e.At.Unix() / 3600}
	var lastPoll int64
	if e.Poll {
		lastPoll = e.At.UnixMicro()
	}
	r.mu.Lock()
	c := r.counter(k)
	c.requests++
	c.objects += e.Objects
	c.bytes += e.Bytes
	if e.Poll {
		c.polls++
		if lastPoll >= c.lastPoll {
			c.lastPoll, c.lastAddedAfter = lastPoll, e.AddedAfter
		}
	}
	r.mu.Unlock()
}

// counter finds or makes the counter of k, or of its hour's overflow row when
// the table is full. Called with mu held.
func (r *Recorder) counter(k entry) *counts {
	if c := r.m[k]; c != nil {
		return c
	}
	if len(r.m) >= r.opts.MaxEntries {
		r.overflowed++
		select {
		case r.full <- struct{}{}:
		default:
		}
		// One overflow row per hour, beyond the cap: at most a few.
		k = entry{keyID: store.UsageOverflowKey, hour: k.hour}
		if c := r.m[k]; c != nil {
			return c
		}
	}
	c := &counts{}
	r.m[k] = c
	return c
}

// Entries is how many counters are held now, overflow rows included.
func (r *Recorder) Entries() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// Flush adds every counter to the store and empties the table. When the store
// fails, the counts are put back (to the overflow row if the table filled up
// meanwhile) for the next flush: usage is never dropped for a busy database.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	m, overflowed := r.m, r.overflowed
	r.m, r.overflowed = make(map[entry]*counts, len(m)), 0
	r.mu.Unlock()
	if overflowed > 0 {
		r.log.Warn("usage table full: requests counted without their key (raise TAXII_USAGE_MAX_ENTRIES or lower TAXII_USAGE_FLUSH_INTERVAL)",
			zap.Int64("events", overflowed), zap.Int("max_entries", r.opts.MaxEntries))
	}
	if len(m) == 0 {
		return nil
	}
	rows := make([]store.UsageRow, 0, len(m))
	for k, c := range m {
		rows = append(rows, store.UsageRow{
			Hour: time.Unix(k.hour*3600, 0).UTC(), KeyID: k.keyID, FeedID: k.feedID,
			Requests: c.requests, Polls: c.polls, Objects: c.objects, Bytes: c.bytes,
			LastPoll: store.TimeOrZero(c.lastPoll), LastAddedAfter: c.lastAddedAfter,
		})
	}
	if err := r.st.AddUsage(ctx, rows); err != nil {
		r.putBack(m)
		return err
	}
	return nil
}

// putBack adds counters a failed flush took back into the table.
func (r *Recorder) putBack(m map[entry]*counts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, o := range m {
		c := r.counter(k)
		c.requests += o.requests
		c.polls += o.polls
		c.objects += o.objects
		c.bytes += o.bytes
		if o.lastPoll > c.lastPoll {
			c.lastPoll, c.lastAddedAfter = o.lastPoll, o.lastAddedAfter
		}
	}
}

// Purge deletes the rows older than the retention.
func (r *Recorder) Purge(ctx context.Context) (int64, error) {
	return r.st.DeleteUsageBefore(ctx, store.UsageHour(r.opts.Now()).Add(-r.opts.Retention))
}

// purgeEvery is how often Run deletes old rows: rows are hourly, so more
// often would find nothing new.
const purgeEvery = time.Hour

// Run flushes every FlushEvery (sooner when the table is full) and purges old
// rows every hour, until ctx ends; then it flushes once more, bounded by
// FinalFlushTimeout. Run it after the HTTP server has drained, or cancel ctx
// only then, so the last requests are counted.
func (r *Recorder) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.FlushEvery)
	defer t.Stop()
	var lastPurge time.Time
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.FinalFlushTimeout)
			defer cancel()
			if err := r.Flush(fctx); err != nil {
				r.log.Error("usage: final flush failed; the counts since the last flush are lost", zap.Error(err))
			}
			return
		case <-t.C:
		case <-r.full:
		}
		if err := r.Flush(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("usage: flush failed; kept for the next one", zap.Error(err))
		}
		if now := r.opts.Now(); now.Sub(lastPurge) >= purgeEvery {
			if n, err := r.Purge(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("usage: purge failed", zap.Error(err))
			} else {
				lastPurge = now
				if n > 0 {
					r.log.Info("usage: purged old hours", zap.Int64("rows", n))
				}
			}
		}
	}
}
