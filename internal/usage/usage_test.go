package usage

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
)

const (
	keyA  = "0a6f7c2e-1b2d-4e3f-8a9b-0c1d2e3f4a01"
	feed1 = "9a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01"
)

var noon = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

func newRecorder(t *testing.T, st store.Usage, o Options) (*Recorder, *observer.ObservedLogs) {
	t.Helper()
	if o.MaxEntries == 0 {
		o.MaxEntries = 100
	}
	if o.FlushEvery == 0 {
		o.FlushEvery = time.Hour
	}
	if o.Retention == 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.FinalFlushTimeout == 0 {
		o.FinalFlushTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = func() time.Time { return noon.Add(30 * time.Minute) }
	}
	core, logs := observer.New(zapcore.InfoLevel)
	r, err := New(st, o, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	return r, logs
}

func totals(t *testing.T, st store.Usage, by store.UsageGroup) []store.UsageTotal {
	t.Helper()
	got, err := st.UsageTotals(t.Context(), noon.Add(-48*time.Hour), by)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRecordAndFlush(t *testing.T) {
	for _, s := range storetest.Stores(t) {
		t.Run(s.Name, func(t *testing.T) {
			st := s.New(t)
			r, _ := newRecorder(t, st, Options{})
			r.Record(Event{KeyID: keyA, FeedID: feed1, At: noon.Add(time.Minute), Poll: true, AddedAfter: 5, Objects: 10, Bytes: 1000})
			r.Record(Event{KeyID: keyA, FeedID: feed1, At: noon.Add(2 * time.Minute), Poll: true, AddedAfter: 6, Objects: 1, Bytes: 100})
			r.Record(Event{KeyID: keyA, FeedID: feed1, At: noon.Add(3 * time.Minute), Bytes: 7}) // not a poll
			r.Record(Event{KeyID: keyA, At: noon.Add(-time.Minute), Bytes: 3})                   // the hour before, no feed
			r.Record(Event{FeedID: feed1, At: noon, Bytes: 3})                                   // no key: not counted
			if n := r.Entries(); n != 2 {
				t.Fatalf("entries = %d, want 2 (one per key, feed and hour)", n)
			}
			if err := r.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := r.Entries(); n != 0 {
				t.Fatalf("entries after flush = %d, want 0", n)
			}
			got := totals(t, st, store.UsageByKeyFeed)
			want := []store.UsageTotal{
				{KeyID: keyA, Requests: 1, Bytes: 3},
				{KeyID: keyA, FeedID: feed1, Requests: 3, Polls: 2, Objects: 11, Bytes: 1107, LastPoll: noon.Add(2 * time.Minute), LastAddedAfter: 6},
			}
			if len(got) != 2 || got[0] != want[0] || got[1].Requests != 3 || got[1].Polls != 2 || got[1].Objects != 11 || got[1].Bytes != 1107 ||
				!got[1].LastPoll.Equal(want[1].LastPoll) || got[1].LastAddedAfter != 6 {
				t.Fatalf("totals\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// A flood of distinct keys never holds more counters than the cap (plus the
// overflow row of the hour); what did not fit is counted in the overflow row
// and logged, so the totals stay whole.
func TestBoundedEntries(t *testing.T) {
	st := storetest.Stores(t)[0].New(t)
	const max, flood = 10, 5000
	r, logs := newRecorder(t, st, Options{MaxEntries: max})
	for i := range flood {
		r.Record(Event{KeyID: fmt.Sprintf("key-%05d", i), FeedID: feed1, At: noon, Poll: true, Objects: 1, Bytes: 10})
		if n := r.Entries(); n > max+1 {
			t.Fatalf("after %d keys: %d entries, cap %d", i+1, n, max)
		}
	}
	select {
	case <-r.full:
	default:
		t.Fatal("a full table did not wake the flusher")
	}
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	byKey := totals(t, st, store.UsageByKey)
	if len(byKey) != max+1 || byKey[0].KeyID != store.UsageOverflowKey || byKey[0].Requests != flood-max || byKey[0].Objects != flood-max {
		t.Fatalf("by key: %d rows, first %+v; want %d keys and the overflow row with %d requests", len(byKey), byKey[0], max, flood-max)
	}
	var sum int64
	for _, k := range byKey {
		sum += k.Requests
	}
	if sum != flood {
		t.Fatalf("requests sum to %d, want %d", sum, flood)
	}
	if w := logs.FilterMessageSnippet("usage table full").All(); len(w) != 1 || w[0].ContextMap()["events"] != int64(flood-max) {
		t.Fatalf("overflow log lines: %+v", w)
	}
}

// failing is a store whose AddUsage fails until told otherwise.
type failing struct {
	store.Usage
	fail bool
}

func (f *failing) AddUsage(ctx context.Context, rows []store.UsageRow) error {
	if f.fail {
		return errors.New("database down")
	}
	return f.Usage.AddUsage(ctx, rows)
}

func TestFailedFlushKeepsTheCounts(t *testing.T) {
	st := &failing{Usage: storetest.Stores(t)[0].New(t), fail: true}
	r, _ := newRecorder(t, st, Options{})
	r.Record(Event{KeyID: keyA, FeedID: feed1, At: noon, Poll: true, AddedAfter: 9, Objects: 2, Bytes: 20})
	if err := r.Flush(t.Context()); err == nil {
		t.Fatal("flush into a failing store reported no error")
	}
	r.Record(Event{KeyID: keyA, FeedID: feed1, At: noon, Objects: 1, Bytes: 5})
	st.fail = false
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := totals(t, st, store.UsageByKeyFeed)
	if len(got) != 1 || got[0].Requests != 2 || got[0].Polls != 1 || got[0].Objects != 3 || got[0].Bytes != 25 || got[0].LastAddedAfter != 9 {
		t.Fatalf("totals after a failed then a good flush: %+v", got)
	}
}

// Run purges hours past the retention, and flushes what is left when its
// context ends (graceful shutdown).
func TestRunPurgesAndFlushesAtTheEnd(t *testing.T) {
	for _, s := range storetest.Stores(t) {
		t.Run(s.Name, func(t *testing.T) {
			st := s.New(t)
			old := store.UsageRow{Hour: noon.Add(-31 * 24 * time.Hour), KeyID: keyA, FeedID: feed1, Requests: 1}
			kept := store.UsageRow{Hour: noon.Add(-29 * 24 * time.Hour), KeyID: keyA, FeedID: feed1, Requests: 2}
			if err := st.AddUsage(t.Context(), []store.UsageRow{old, kept}); err != nil {
				t.Fatal(err)
			}
			r, _ := newRecorder(t, st, Options{FlushEvery: 10 * time.Millisecond})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() {
				defer close(done)
				r.Run(ctx)
			}()
			deadline := time.Now().Add(10 * time.Second)
			for {
				got, err := st.UsageTotals(t.Context(), noon.Add(-40*24*time.Hour), store.UsageByKey)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 1 && got[0].Requests == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the row past the retention is still there: %+v", got)
				}
				time.Sleep(10 * time.Millisecond)
			}
			r.Record(Event{KeyID: keyA, FeedID: feed1, At: noon, Poll: true, Objects: 4})
			cancel()
			<-done
			got := totals(t, st, store.UsageByKey)
			if len(got) != 1 || got[0].Objects != 4 {
				t.Fatalf("after the last flush: %+v; want the event recorded before the end", got)
			}
		})
	}
}

func TestNilRecorder(t *testing.T) {
	var r *Recorder
	r.Record(Event{KeyID: keyA}) // the server without usage: nothing happens
}
