// Package storetest is the conformance suite of the store contract: Exercise
// asserts, once, every behaviour the TAXII API relies on, and every store
// implementation's tests call it (the model is river's riverdrivertest).
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

// Exercise runs the whole suite. newStore returns a new, empty store with its
// own database, closed at cleanup; it may or may not have migrated it already.
func Exercise(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()

	// setup gives each subtest its own store, so subtests never see each other's data.
	setup := func(t *testing.T) (store.Store, context.Context) {
		t.Helper()
		s := newStore(t)
		ctx := t.Context()
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s, ctx
	}

	t.Run("Schema", func(t *testing.T) { exerciseSchema(t, setup) })
	t.Run("AddObjects", func(t *testing.T) { exerciseAddObjects(t, setup) })
	t.Run("Conflicts", func(t *testing.T) { exerciseConflicts(t, setup) })
	t.Run("ImportJobs", func(t *testing.T) { exerciseImportJobs(t, setup) })
	t.Run("ScanObjects", func(t *testing.T) { exerciseScanObjects(t, setup) })
	t.Run("VersionFlags", func(t *testing.T) { exerciseVersionFlags(t, setup) })
	t.Run("DeleteObject", func(t *testing.T) { exerciseDeleteObject(t, setup) })
	t.Run("Sources", func(t *testing.T) { exerciseSources(t, setup) })
	t.Run("Upstreams", func(t *testing.T) { exerciseUpstreams(t, setup) })
	t.Run("Paging", func(t *testing.T) { exercisePaging(t, setup) })
	t.Run("ConcurrentWritersAndPollers", func(t *testing.T) { exerciseConcurrency(t, setup) })
	t.Run("Observables", func(t *testing.T) { exerciseObservables(t, setup) })
	t.Run("Feeds", func(t *testing.T) { exerciseFeeds(t, setup) })
	t.Run("FeedFilters", func(t *testing.T) { exerciseFeedFilters(t, setup) })
	t.Run("FilteredFeedConcurrency", func(t *testing.T) { exerciseFilteredConcurrency(t, setup) })
	t.Run("Keys", func(t *testing.T) { exerciseKeys(t, setup) })
	t.Run("RotateKey", func(t *testing.T) { exerciseRotateKey(t, setup) })
	t.Run("Audit", func(t *testing.T) { exerciseAudit(t, setup) })
	t.Run("Statuses", func(t *testing.T) { exerciseStatuses(t, setup) })
	t.Run("Settings", func(t *testing.T) { exerciseSettings(t, setup) })
	t.Run("Maintenance", func(t *testing.T) { exerciseMaintenance(t, setup) })
	t.Run("Usage", func(t *testing.T) { exerciseUsage(t, setup) })
}

type setupFunc func(t *testing.T) (store.Store, context.Context)

// objectID makes a readable, valid STIX id: indicator--00000000-0000-4000-8000-000000000007.
func objectID(typ string, n int) string {
	return fmt.Sprintf("%s--00000000-0000-4000-8000-%012d", typ, n)
}

// object builds one version. Its raw JSON has odd spacing, key order and escapes:
// a store that re-encoded it would not give the same bytes back.
func object(id, created, modified string) store.Object {
	typ, _, _ := strings.Cut(id, "--")
	raw := fmt.Sprintf(`{"type": %q,"spec_version":"2.1",  "id":%q`, typ, id)
	if created != "" {
		raw += fmt.Sprintf(`, "created":%q`, created)
	}
	if modified != "" {
		raw += fmt.Sprintf(`,"modified" : %q`, modified)
	}
	raw += ` ,"name":"caf\u00e9 ☕ \"q\"",	"x_n": 1.50}`
	return store.Object{ID: id, Type: typ, SpecVersion: "2.1", Created: created, Modified: modified, Raw: []byte(raw)}
}

// version builds a version of id with created fixed and the given modified.
func version(id, modified string) store.Object {
	return object(id, "2020-01-01T00:00:00.000Z", modified)
}

// add stores objs and fails the test on error.
func add(t *testing.T, ctx context.Context, s store.Store, objs ...store.Object) []store.AddOutcome {
	t.Helper()
	out, err := s.AddObjects(ctx, objs)
	if err != nil {
		t.Fatalf("AddObjects: %v", err)
	}
	if len(out) != len(objs) {
		t.Fatalf("AddObjects returned %d outcomes for %d objects", len(out), len(objs))
	}
	return out
}

// scan runs q and returns the page and a copy of its rows, checking on the way
// what holds for every scan: begin once before any row, rows in strictly
// increasing date_added, and a summary that describes the rows.
func scan(t *testing.T, ctx context.Context, s store.Store, q store.Query) (store.Page, []store.Row) {
	t.Helper()
	var (
		page  store.Page
		began int
		rows  []store.Row
	)
	err := s.ScanObjects(ctx, q,
		func(p store.Page) error {
			began++
			page = p
			return nil
		},
		func(r store.Row) error {
			if began != 1 {
				return fmt.Errorf("row %s before begin", r.ID)
			}
			r.Raw = bytes.Clone(r.Raw)
			rows = append(rows, r)
			return nil
		})
	if err != nil {
		t.Fatalf("ScanObjects(%+v): %v", q, err)
	}
	if began != 1 {
		t.Fatalf("begin called %d times, want 1", began)
	}
	if page.Count != len(rows) {
		t.Fatalf("page.Count = %d, but %d rows streamed", page.Count, len(rows))
	}
	if page.Count > q.Limit {
		t.Fatalf("page.Count = %d > limit %d", page.Count, q.Limit)
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].DateAdded <= rows[i-1].DateAdded {
			t.Fatalf("rows not in strictly increasing date_added: %d then %d", rows[i-1].DateAdded, rows[i].DateAdded)
		}
	}
	if len(rows) == 0 {
		if page != (store.Page{}) {
			t.Fatalf("empty page summary = %+v, want zero", page)
		}
	} else if page.First != rows[0].DateAdded || page.Last != rows[len(rows)-1].DateAdded {
		t.Fatalf("page First/Last = %d/%d, rows span %d/%d", page.First, page.Last, rows[0].DateAdded, rows[len(rows)-1].DateAdded)
	}
	return page, rows
}

// pageAll follows q page by page to the end, moving the cursor with After, or
// with AddedAfter when byAddedAfter (as a client re-polling with the last
// X-TAXII-Date-Added-Last would), and returns every row seen.
func pageAll(t *testing.T, ctx context.Context, s store.Store, q store.Query, byAddedAfter bool) []store.Row {
	t.Helper()
	var all []store.Row
	for range 1_000_000 {
		page, rows := scan(t, ctx, s, q)
		all = append(all, rows...)
		if !page.More {
			return all
		}
		if byAddedAfter {
			q.AddedAfter = page.Last
		} else {
			q.After = page.Last
		}
	}
	t.Fatal("paging did not end")
	return nil
}

// ref names a version in expectations: "indicator--...7@2021-01-01T00:00:00.000Z".
type ref string

func refOf(r store.Row) ref { return ref(r.ID + "@" + r.Version) }

func refs(rows []store.Row) []ref {
	out := make([]ref, len(rows))
	for i, r := range rows {
		out[i] = refOf(r)
	}
	return out
}

func refTo(o store.Object) ref { return ref(o.ID + "@" + store.ObjectVersion(o.Created, o.Modified)) }

func refsTo(objs ...store.Object) []ref {
	out := make([]ref, len(objs))
	for i, o := range objs {
		out[i] = refTo(o)
	}
	return out
}

func versionKey(t *testing.T, ts string) string {
	t.Helper()
	k, err := store.VersionKey(ts)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
