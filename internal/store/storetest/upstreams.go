package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// exerciseUpstreams asserts the upstream sources: their records, the lease that
// gives a source to one puller at a time, the page commit that moves objects
// and watermark together, and the run record.
func exerciseUpstreams(t *testing.T, setup setupFunc) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	newSource := func(name string) store.Upstream {
		return store.Upstream{Name: name, URL: "https://up.example/api/collections/c1/", TAXIIVersion: "2.1",
			User: "u", Password: "secret", CAPEM: []byte("-----BEGIN CERTIFICATE-----\n"), Types: []string{"indicator", "malware"},
			Interval: time.Hour, AddedAfter: "2025-01-01T00:00:00Z", NextRun: t0}
	}
	create := func(t *testing.T, s store.Store, u store.Upstream) store.Upstream {
		t.Helper()
		got, err := s.CreateUpstream(t.Context(), u)
		if err != nil {
			t.Fatalf("CreateUpstream %s: %v", u.Name, err)
		}
		return got
	}

	t.Run("CreateListGetRemove", func(t *testing.T) {
		s, ctx := setup(t)
		b := create(t, s, newSource("b"))
		if b.ID == 0 || b.CreatedAt.IsZero() || b.Password != "secret" || string(b.CAPEM) != "-----BEGIN CERTIFICATE-----\n" ||
			!slices.Equal(b.Types, []string{"indicator", "malware"}) || b.Interval != time.Hour || !b.NextRun.Equal(t0) || b.Watermark != "" {
			t.Fatalf("created %+v", b)
		}
		create(t, s, store.Upstream{Name: "a", URL: "http://x/", TAXIIVersion: "2.0", Interval: time.Minute})
		if _, err := s.CreateUpstream(ctx, newSource("b")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate name: %v, want ErrConflict", err)
		}
		list, err := s.ListUpstreams(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" || len(list[0].Types) != 0 {
			t.Fatalf("ListUpstreams = %+v, %v", list, err)
		}
		if got, err := s.GetUpstream(ctx, "b"); err != nil || got.ID != b.ID || got.AddedAfter != b.AddedAfter {
			t.Fatalf("GetUpstream b = %+v, %v", got, err)
		}
		if _, err := s.GetUpstream(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetUpstream of none: %v", err)
		}
		for _, err := range []error{s.PauseUpstream(ctx, "nope", true), s.RunUpstreamNow(ctx, "nope"), s.DeleteUpstream(ctx, "nope")} {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("change of a missing source: %v, want ErrNotFound", err)
			}
		}
		if err := s.DeleteUpstream(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if list, _ := s.ListUpstreams(ctx); len(list) != 1 {
			t.Fatalf("after remove: %+v", list)
		}
	})

	t.Run("ClaimIsExclusiveWhileLeased", func(t *testing.T) {
		s, ctx := setup(t)
		create(t, s, newSource("one"))
		later := newSource("later")
		later.NextRun = t0.Add(time.Hour)
		create(t, s, later)

		if _, err := s.ClaimUpstream(ctx, "p1", t0.Add(-time.Second), time.Minute); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("claim before any source is due: %v, want ErrNotFound", err)
		}
		got, err := s.ClaimUpstream(ctx, "p1", t0, time.Minute)
		if err != nil || got.Name != "one" || got.LeaseOwner != "p1" || !got.LeaseUntil.Equal(t0.Add(time.Minute)) {
			t.Fatalf("claim = %+v, %v", got, err)
		}
		if _, err := s.ClaimUpstream(ctx, "p2", t0.Add(30*time.Second), time.Minute); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second claimer while leased: %v, want ErrNotFound", err)
		}
		// The lease expired (its holder died): another claimer takes it over.
		got, err = s.ClaimUpstream(ctx, "p2", t0.Add(2*time.Minute), 10*time.Hour)
		if err != nil || got.Name != "one" || got.LeaseOwner != "p2" {
			t.Fatalf("claim after the lease expired = %+v, %v", got, err)
		}

		// Paused sources are never claimed; run-now makes one due before its time.
		if err := s.PauseUpstream(ctx, "later", true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClaimUpstream(ctx, "p3", t0.Add(2*time.Hour), time.Minute); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("claim of a paused source: %v", err)
		}
		if err := s.PauseUpstream(ctx, "later", false); err != nil {
			t.Fatal(err)
		}
		if err := s.RunUpstreamNow(ctx, "later"); err != nil {
			t.Fatal(err)
		}
		got, err = s.ClaimUpstream(ctx, "p3", t0.Add(3*time.Minute), time.Minute)
		if err != nil || got.Name != "later" || got.RunNow {
			t.Fatalf("run-now claim = %+v, %v", got, err)
		}
	})

	t.Run("ReleaseMakesTheSourceDueAtOnce", func(t *testing.T) {
		s, ctx := setup(t)
		create(t, s, newSource("one"))
		got, err := s.ClaimUpstream(ctx, "p1", t0, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ReleaseUpstream(ctx, got.ID, "p2"); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("release by another owner: %v, want ErrLeaseLost", err)
		}
		if _, err := s.ClaimUpstream(ctx, "p2", t0.Add(time.Minute), time.Hour); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("claim while leased: %v, want ErrNotFound", err)
		}
		if err := s.ReleaseUpstream(ctx, got.ID, "p1"); err != nil {
			t.Fatal(err)
		}
		// Due at once, although its lease had an hour to run.
		again, err := s.ClaimUpstream(ctx, "p2", t0.Add(time.Minute), time.Hour)
		if err != nil || again.ID != got.ID || again.LeaseOwner != "p2" {
			t.Fatalf("claim after the release = %+v, %v", again, err)
		}
	})

	t.Run("ConcurrentClaimersNeverShareASource", func(t *testing.T) {
		s, ctx := setup(t)
		const sources, claimers = 6, 8
		for i := range sources {
			create(t, s, newSource(fmt.Sprintf("s%d", i)))
		}
		var mu sync.Mutex
		claimed := map[string]string{}
		var wg sync.WaitGroup
		errs := make(chan error, claimers)
		for c := range claimers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("p%d", c)
				for {
					u, err := s.ClaimUpstream(ctx, owner, t0, time.Hour)
					if errors.Is(err, store.ErrNotFound) {
						return
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					if prev, ok := claimed[u.Name]; ok {
						errs <- fmt.Errorf("%s claimed by %s and %s", u.Name, prev, owner)
					}
					claimed[u.Name] = owner
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(claimed) != sources {
			t.Fatalf("claimed %d of %d sources: %v", len(claimed), sources, claimed)
		}
	})

	t.Run("CommitMovesObjectsAndWatermarkTogether", func(t *testing.T) {
		s, ctx := setup(t)
		create(t, s, newSource("up"))
		u, err := s.ClaimUpstream(ctx, "p1", t0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		x, y := objectID("indicator", 1), objectID("indicator", 2)
		ox, oy := version(x, "2021-01-01T00:00:00.000Z"), version(y, "2021-01-01T00:00:00.000Z")
		ox.Source, oy.Source = "up", "up"
		out, err := s.CommitUpstreamPage(ctx, u.ID, store.Lease{Owner: "p1", Now: t0.Add(time.Second), Until: t0.Add(2 * time.Minute)},
			[]store.Object{ox, oy}, "2025-06-01T00:00:00.000Z")
		if err != nil || len(out) != 2 || !out[0].Added || !out[1].Added {
			t.Fatalf("commit = %+v, %v", out, err)
		}
		got, _ := s.GetUpstream(ctx, "up")
		if got.Watermark != "2025-06-01T00:00:00.000Z" || !got.LeaseUntil.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("after commit: watermark %q, lease until %v", got.Watermark, got.LeaseUntil)
		}
		if _, rows := scan(t, ctx, s, store.Query{Limit: 10}); len(rows) != 2 {
			t.Fatalf("stored %d rows, want 2", len(rows))
		}
		if srcs, _ := s.ListSources(ctx); len(srcs) != 1 || srcs[0].Source != "up" {
			t.Fatalf("provenance %+v", srcs)
		}
		// A page with nothing to store still moves the watermark.
		if _, err := s.CommitUpstreamPage(ctx, u.ID, store.Lease{Owner: "p1", Now: t0.Add(2 * time.Second)}, nil, "2025-07-01T00:00:00.000Z"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetUpstream(ctx, "up"); got.Watermark != "2025-07-01T00:00:00.000Z" {
			t.Fatalf("empty page: watermark %q", got.Watermark)
		}

		// The lease expired and another process took the source: the old holder's
		// page is refused whole, objects and watermark.
		if _, err := s.ClaimUpstream(ctx, "p2", t0.Add(3*time.Minute), time.Minute); err != nil {
			t.Fatal(err)
		}
		z := version(objectID("indicator", 3), "2021-01-01T00:00:00.000Z")
		z.Source = "up"
		if _, err := s.CommitUpstreamPage(ctx, u.ID, store.Lease{Owner: "p1", Now: t0.Add(3 * time.Minute)}, []store.Object{z}, "2099-01-01T00:00:00.000Z"); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("commit after the lease was lost: %v, want ErrLeaseLost", err)
		}
		// An expired lease nobody took over is lost too.
		if _, err := s.CommitUpstreamPage(ctx, u.ID, store.Lease{Owner: "p2", Now: t0.Add(5 * time.Minute)}, []store.Object{z}, "2099-01-01T00:00:00.000Z"); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("commit on an expired lease: %v, want ErrLeaseLost", err)
		}
		if got, _ := s.GetUpstream(ctx, "up"); got.Watermark != "2025-07-01T00:00:00.000Z" {
			t.Fatalf("refused commit moved the watermark to %q", got.Watermark)
		}
		if _, rows := scan(t, ctx, s, store.Query{Limit: 10}); len(rows) != 2 {
			t.Fatalf("refused commit stored objects: %d rows, want 2", len(rows))
		}
		if err := s.FinishUpstreamRun(ctx, u.ID, "p1", store.UpstreamRun{Started: t0, Finished: t0.Add(4 * time.Minute)}); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("finish by a former holder: %v, want ErrLeaseLost", err)
		}
	})

	t.Run("FinishRecordsTheRun", func(t *testing.T) {
		s, ctx := setup(t)
		create(t, s, newSource("up"))
		run := func(owner string, at time.Time, r store.UpstreamRun) store.Upstream {
			t.Helper()
			u, err := s.ClaimUpstream(ctx, owner, at, time.Minute)
			if err != nil {
				t.Fatalf("claim at %v: %v", at, err)
			}
			r.Started, r.Finished = at, at.Add(10*time.Second)
			if err := s.FinishUpstreamRun(ctx, u.ID, owner, r); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetUpstream(ctx, "up")
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		c1 := store.UpstreamCounts{Pulled: 10, Stored: 7, Unchanged: 1, Rejected: 2, Converted: 3, Conflicting: 4}
		got := run("p1", t0, store.UpstreamRun{Counts: c1, Samples: []string{"x: bad"}, Notes: []string{"no headers"}})
		end1 := t0.Add(10 * time.Second)
		if got.LeaseOwner != "" || !got.LeaseUntil.IsZero() || !got.NextRun.Equal(end1.Add(time.Hour)) ||
			!got.LastRun.Equal(t0) || !got.LastSuccess.Equal(end1) || got.LastError != "" ||
			got.LastCounts != c1 || got.TotalCounts != c1 || !slices.Equal(got.Samples, []string{"x: bad"}) || !slices.Equal(got.Notes, []string{"no headers"}) {
			t.Fatalf("after a successful run: %+v", got)
		}
		if _, err := s.ClaimUpstream(ctx, "p1", end1.Add(time.Minute), time.Minute); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("claim before the interval passed: %v", err)
		}
		t2 := end1.Add(time.Hour)
		c2 := store.UpstreamCounts{Pulled: 1, Stored: 1, Conflicting: 1}
		// A run with conflicts and no rejection records its samples too (they list the conflicts).
		got = run("p2", t2, store.UpstreamRun{Counts: c2, Err: "upstream answered 503", Samples: []string{"y: other content"}})
		if got.LastError != "upstream answered 503" || !got.LastErrorAt.Equal(t2.Add(10*time.Second)) || !got.LastSuccess.Equal(end1) ||
			got.LastCounts != c2 || got.TotalCounts != c1.Add(c2) || !slices.Equal(got.Samples, []string{"y: other content"}) {
			t.Fatalf("after a failed run: %+v", got)
		}
	})
}
