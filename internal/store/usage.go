package store

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// UsageRow is what one process counted for one key on one feed during one hour:
// the unit the usage aggregator (internal/usage) flushes and the store adds up.
type UsageRow struct {
	Hour     time.Time // start of the UTC hour
	KeyID    string    // "" only for the overflow row (UsageOverflowKey)
	FeedID   string    // "": requests not about one feed (discovery, collections, status)
	Requests int64     // authenticated requests answered
	Polls    int64     // pages of objects, manifests, exports and blocklists
	Objects  int64     // STIX objects (or manifest records, items, entries) served
	Bytes    int64     // response body bytes
	// LastPoll is the time of the hour's latest poll (zero when none), and
	// LastAddedAfter the added_after (µs; 0: none) that poll asked from.
	LastPoll       time.Time
	LastAddedAfter int64
}

// UsageOverflowKey is the key id of the row that counts the events the
// aggregator could not attribute because its table was full: totals stay right.
const UsageOverflowKey = ""

// UsageGroup says what UsageTotals adds up by.
type UsageGroup int

const (
	UsageByKey     UsageGroup = iota // one total per key, every feed together
	UsageByFeed                      // one total per feed, every key together (requests not about a feed left out)
	UsageByKeyFeed                   // one total per key and feed
)

// UsageTotal is the sum of the hourly rows of one group over a window. KeyID is ""
// when grouped by feed, FeedID when grouped by key.
type UsageTotal struct {
	KeyID, FeedID                   string
	Requests, Polls, Objects, Bytes int64
	LastPoll                        time.Time // zero: no poll in the window
	LastAddedAfter                  int64     // of the latest poll, µs; 0: none
}

// UsageDay is one UTC day of a key's usage.
type UsageDay struct {
	Day                             time.Time // midnight UTC
	Requests, Polls, Objects, Bytes int64
}

// Usage stores per-hour usage figures. Rows are added, never replaced, so several
// replicas flushing the same key, feed and hour sum correctly.
type Usage interface {
	// AddUsage adds each row's counters to the stored row of its (hour, key, feed),
	// creating it when missing; LastPoll and LastAddedAfter keep the later poll's.
	// All rows are added in one transaction.
	AddUsage(ctx context.Context, rows []UsageRow) error
	// UsageTotals sums the rows of hours at or after since, by group, ordered by
	// key id then feed id. The overflow row is a key like another (KeyID "").
	UsageTotals(ctx context.Context, since time.Time, by UsageGroup) ([]UsageTotal, error)
	// UsageDaily sums a key's rows of hours at or after since per UTC day, oldest
	// first; days without any row are left out.
	UsageDaily(ctx context.Context, keyID string, since time.Time) ([]UsageDay, error)
	// DeleteUsageBefore removes the rows of hours before before and returns how many.
	DeleteUsageBefore(ctx context.Context, before time.Time) (int64, error)
}

// UsageHour is the start of the UTC hour of t: the granularity of stored usage.
func UsageHour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// MergeUsageRows returns rows with those of the same (hour, key, feed) added
// together, sorted by hour, key and feed. Both stores upsert through it: one
// statement may not update a row twice, and replicas that lock rows in the same
// order cannot deadlock each other.
func MergeUsageRows(rows []UsageRow) []UsageRow {
	out := make([]UsageRow, 0, len(rows))
	for _, r := range rows {
		r.Hour = UsageHour(r.Hour)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b UsageRow) int {
		return cmp.Or(a.Hour.Compare(b.Hour), cmp.Compare(a.KeyID, b.KeyID), cmp.Compare(a.FeedID, b.FeedID))
	})
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && merged[n-1].Hour.Equal(r.Hour) && merged[n-1].KeyID == r.KeyID && merged[n-1].FeedID == r.FeedID {
			merged[n-1].Add(r)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// Add adds o's counters to r; the later poll of the two is kept.
func (r *UsageRow) Add(o UsageRow) {
	r.Requests += o.Requests
	r.Polls += o.Polls
	r.Objects += o.Objects
	r.Bytes += o.Bytes
	if o.LastPoll.After(r.LastPoll) || (o.LastPoll.Equal(r.LastPoll) && !o.LastPoll.IsZero()) {
		r.LastPoll, r.LastAddedAfter = o.LastPoll, o.LastAddedAfter
	}
}
