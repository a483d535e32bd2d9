package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// ExerciseFeedBuilds checks that a feed's entries built in steps (store.Limits.FeedBuildStep),
// while writers add objects and new versions between the steps, are exactly those
// of a feed built at once afterwards, and that a build cut short leaves the feed
// Building until FinishFeedBuilds completes it. open returns a new, migrated store
// with lim, closed at cleanup.
func ExerciseFeedBuilds(t *testing.T, open func(t *testing.T, lim store.Limits) store.Store) {
	red := store.FeedFilter{TLP: []store.TLP{store.TLPRed}}
	redOrAmber := store.FeedFilter{TLP: []store.TLP{store.TLPRed, store.TLPAmber}}

	t.Run("steps interleaved with writers", func(t *testing.T) {
		s := open(t, store.Limits{FeedBuildStep: 3, FeedBuildAtOnce: time.Nanosecond})
		ctx := t.Context()
		const feedID = "00000000-0000-4000-8000-0000000000b1"
		if _, err := s.AddObjects(ctx, buildBatch(0, 120, 0)); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		var wg sync.WaitGroup
		wg.Go(func() { // new objects, and new versions of those the steps have yet to reach and have passed
			for c := range 40 {
				if _, err := s.AddObjects(ctx, buildBatch(c*3, 3, c+1)); err != nil {
					errs <- fmt.Errorf("writer: %w", err)
					return
				}
				if _, err := s.AddObjects(ctx, buildBatch(1000+c*2, 2, 0)); err != nil {
					errs <- fmt.Errorf("writer: %w", err)
					return
				}
			}
		})
		wg.Go(func() {
			if err := s.CreateFeed(ctx, store.Feed{ID: feedID, Title: "red", Filter: red}); err != nil {
				errs <- fmt.Errorf("create: %w", err)
				return
			}
			for _, f := range []store.FeedFilter{redOrAmber, red, redOrAmber} {
				if err := s.UpdateFeed(ctx, store.Feed{ID: feedID, Title: "red", Filter: f}); err != nil {
					errs <- fmt.Errorf("update: %w", err)
					return
				}
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		stepped, err := s.GetFeed(ctx, feedID)
		if err != nil || stepped.Building {
			t.Fatalf("after the builds: %+v, %v; want a built feed", stepped, err)
		}
		// The same filter, built now with nothing writing.
		const freshID = "00000000-0000-4000-8000-0000000000b2"
		if err := s.CreateFeed(ctx, store.Feed{ID: freshID, Title: "fresh", Filter: redOrAmber}); err != nil {
			t.Fatal(err)
		}
		fresh, _ := s.GetFeed(ctx, freshID)
		for _, v := range []store.VersionMatch{{}, {All: true}, {First: true}} {
			got, want := feedRows(t, s, stepped.Filter, v), feedRows(t, s, fresh.Filter, v)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("versions %+v: the feed built in steps among writers shows %d rows, one built at once %d:\n%v\nwant\n%v",
					v, len(got), len(want), got, want)
			}
		}
	})

	t.Run("a change over a small store commits whole", func(t *testing.T) {
		// Steps of one version, but FeedBuildAtOnce (5 s) to take them in the
		// change's own transaction: readers never see the feed being built.
		s := open(t, store.Limits{FeedBuildStep: 1})
		ctx := t.Context()
		const feedID = "00000000-0000-4000-8000-0000000000b5"
		if _, err := s.AddObjects(ctx, buildBatch(0, 300, 0)); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		seen := make(chan bool, 1)
		go func() {
			building := false
			defer func() { seen <- building }()
			for {
				select {
				case <-done:
					return
				default:
				}
				if f, err := s.GetFeed(ctx, feedID); err == nil && f.Building {
					building = true
				}
			}
		}()
		if err := s.CreateFeed(ctx, store.Feed{ID: feedID, Title: "red", Filter: red}); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateFeed(ctx, store.Feed{ID: feedID, Title: "red", Filter: redOrAmber}); err != nil {
			t.Fatal(err)
		}
		close(done)
		if <-seen {
			t.Error("a reader saw the feed being built: a change over 300 versions should commit whole")
		}
		f, _ := s.GetFeed(ctx, feedID)
		if rows := feedRows(t, s, f.Filter, store.VersionMatch{}); len(rows) != 200 {
			t.Errorf("%d rows, want the 200 red or amber", len(rows))
		}
	})

	t.Run("a build cut short is finished later", func(t *testing.T) {
		s := open(t, store.Limits{FeedBuildStep: 1, FeedBuildAtOnce: time.Nanosecond})
		ctx := t.Context()
		const feedID = "00000000-0000-4000-8000-0000000000b3"
		if _, err := s.AddObjects(ctx, buildBatch(0, 300, 0)); err != nil {
			t.Fatal(err)
		}
		f := InterruptedBuild(t, s, store.Feed{ID: feedID, Title: "red", Filter: red})
		if all, err := s.ListFeeds(ctx); err != nil || len(all) != 1 || !all[0].Building {
			t.Fatalf("ListFeeds = %+v, %v; want the feed, building", all, err)
		}
		// A page read in the same snapshot as the feed's state: never a part of it.
		for _, q := range []store.Query{{Feed: f.Filter, Limit: 10}, {Feed: f.Filter, IDs: []string{objectID("indicator", 0)}, Limit: 10}} {
			err := s.ScanObjects(ctx, q, func(store.Page) error { return nil }, func(store.Row) error { return nil })
			if !errors.Is(err, store.ErrBuilding) || !errors.Is(err, store.ErrBusy) {
				t.Errorf("a page of the feed being built (ids %v): %v; want ErrBuilding, an ErrBusy", q.IDs, err)
			}
		}
		before, err := s.ListState(ctx, f.Filter, "ipv4", time.Now().UnixMicro())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.FinishFeedBuilds(ctx); err != nil {
			t.Fatal(err)
		}
		// A blocklist read as the build began has its ETag changed by the end.
		if after, err := s.ListState(ctx, f.Filter, "ipv4", time.Now().UnixMicro()); err != nil || after.Changed <= before.Changed {
			t.Errorf("the store's change time across the end of a build: %d then %d (%v); want it later", before.Changed, after.Changed, err)
		}
		if f, err := s.GetFeed(ctx, feedID); err != nil || f.Building {
			t.Fatalf("after FinishFeedBuilds: %+v, %v; want a built feed", f, err)
		}
		got := feedRows(t, s, f.Filter, store.VersionMatch{})
		var want []string
		for n := range 300 {
			if n%3 == 0 {
				want = append(want, objectID("indicator", n)+" 2021-01-01T00:00:00.000Z")
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("finished build: %d rows, want the %d red ones:\n%v", len(got), len(want), got)
		}
	})

	t.Run("a filter change of a feed being built starts over", func(t *testing.T) {
		s := open(t, store.Limits{FeedBuildStep: 1, FeedBuildAtOnce: time.Nanosecond})
		ctx := t.Context()
		if _, err := s.AddObjects(ctx, buildBatch(0, 300, 0)); err != nil {
			t.Fatal(err)
		}
		for _, to := range []store.FeedFilter{redOrAmber, {Types: []string{"indicator"}}} {
			f := InterruptedBuild(t, s, store.Feed{ID: "00000000-0000-4000-8000-0000000000b4", Title: "red", Filter: red})
			f.Filter = to
			if err := s.UpdateFeed(ctx, f); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetFeed(ctx, f.ID)
			if err != nil || got.Building {
				t.Fatalf("after UpdateFeed to %+v: %+v, %v; want a built feed", to, got, err)
			}
			want := 300 // every indicator
			if len(to.TLP) > 0 {
				want = 200 // red or amber
			}
			if rows := feedRows(t, s, got.Filter, store.VersionMatch{}); len(rows) != want {
				t.Errorf("after UpdateFeed to %+v: %d rows, want %d", to, len(rows), want)
			}
			if err := s.DeleteFeed(ctx, f.ID); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// InterruptedBuild creates feed f on s, a store whose builds take one version a
// step, and cuts its build short once the feed is seen Building: it returns the
// feed so left. s must hold a few hundred versions f shows, so that the build
// outlasts the watcher's first look.
func InterruptedBuild(t testing.TB, s store.Store, f store.Feed) store.Feed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	created := make(chan error, 1)
	go func() { created <- s.CreateFeed(ctx, f) }()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		got, err := s.GetFeed(t.Context(), f.ID)
		if err == nil && got.Building {
			cancel()
			if err := <-created; err == nil {
				t.Fatal("CreateFeed finished its build after it was canceled")
			}
			if got, err = s.GetFeed(t.Context(), f.ID); err != nil || !got.Building {
				t.Fatalf("after the cut: %+v, %v; want the feed, building", got, err)
			}
			return got
		}
		select {
		case err := <-created:
			t.Fatalf("CreateFeed returned (%v) before the feed was seen building", err)
		default:
		}
	}
	t.Fatal("the feed was never seen building")
	return store.Feed{}
}

// buildBatch makes n indicators from number first, every third TLP:RED, the
// next TLP:AMBER, the others TLP:GREEN; version v > 0 makes a later version.
func buildBatch(first, n, v int) []store.Object {
	out := make([]store.Object, n)
	for i := range out {
		k := first + i
		m := []string{tlp1Red, tlp1Amber, tlp1Green}[k%3]
		props := markings(m)
		if v > 0 {
			props["modified"] = fmt.Sprintf("2021-01-01T00:00:%02d.000Z", v%60)
			props["name"] = fmt.Sprintf("v%d", v)
		}
		out[i] = stixObject("indicator", k, props)
	}
	return out
}

// feedRows reads every row of a feed as "id version", in date_added order.
func feedRows(t testing.TB, s store.Store, f store.FeedFilter, v store.VersionMatch) []string {
	t.Helper()
	var out []string
	var after int64
	for {
		var page store.Page
		err := s.ScanObjects(t.Context(), store.Query{Feed: f, Versions: v, After: after, Limit: 100, NoRaw: true},
			func(p store.Page) error { page = p; return nil },
			func(r store.Row) error { out = append(out, r.ID+" "+r.Version); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !page.More {
			return out
		}
		after = page.Last
	}
}
