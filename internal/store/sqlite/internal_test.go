package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/store"
)

// newTestStore is sqlitetest.New for this package's own tests (sqlitetest imports this package).
func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "sub", "dir", "taxii.db"), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func indicator(n int) store.Object {
	id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n)
	return store.Object{ID: id, Type: "indicator", SpecVersion: "2.1", Created: "2021-01-01T00:00:00Z",
		Raw: []byte(`{"type":"indicator","id":"` + id + `"}`)}
}

func TestDateAddedDoesNotFollowTheWallClockBackwards(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	wall := time.Now()
	s.now = func() time.Time { return wall }

	first, err := s.AddObjects(ctx, []store.Object{indicator(1), indicator(2)})
	if err != nil {
		t.Fatal(err)
	}
	if first[0].DateAdded != wall.UnixMicro() || first[1].DateAdded != wall.UnixMicro()+1 {
		t.Fatalf("date_added = %d, %d; want the wall clock %d, then +1", first[0].DateAdded, first[1].DateAdded, wall.UnixMicro())
	}

	// NTP steps the clock back an hour: the clock row keeps date_added increasing.
	wall = wall.Add(-time.Hour)
	back, err := s.AddObjects(ctx, []store.Object{indicator(3)})
	if err != nil {
		t.Fatal(err)
	}
	if back[0].DateAdded != first[1].DateAdded+1 {
		t.Fatalf("after the clock went back: date_added %d, want %d", back[0].DateAdded, first[1].DateAdded+1)
	}

	// The wall clock overtakes it again: date_added follows the wall clock.
	wall = wall.Add(2 * time.Hour)
	ahead, err := s.AddObjects(ctx, []store.Object{indicator(4)})
	if err != nil {
		t.Fatal(err)
	}
	if ahead[0].DateAdded != wall.UnixMicro() {
		t.Fatalf("date_added %d, want the wall clock %d", ahead[0].DateAdded, wall.UnixMicro())
	}
}

func TestConnectionSettings(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	for _, tt := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.w, "journal_mode", "wal"},
		{s.w, "synchronous", "2"}, // FULL: acknowledged commits are on disk
		{s.w, "foreign_keys", "1"},
		{s.w, "busy_timeout", fmt.Sprint(defaultBusyTimeoutMS)},
		{s.r, "journal_mode", "wal"},
		{s.r, "query_only", "1"},
		{s.r, "busy_timeout", fmt.Sprint(defaultBusyTimeoutMS)},
	} {
		var got string
		if err := tt.db.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			pool := "writer"
			if tt.db == s.r {
				pool = "readers"
			}
			t.Errorf("%s: PRAGMA %s = %s, want %s", pool, tt.pragma, got, tt.want)
		}
	}
	if got := s.w.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
}

func TestReadersProceedWhileAWriterHoldsTheLock(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	if _, err := s.AddObjects(ctx, []store.Object{indicator(1)}); err != nil {
		t.Fatal(err)
	}
	// Hold the write lock with an uncommitted insert, as a long import would.
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `UPDATE clock SET last = last + 1000`); err != nil {
		t.Fatal(err)
	}

	readCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var count int
	err = s.ScanObjects(readCtx, store.Query{Limit: 10},
		func(p store.Page) error { count = p.Count; return nil },
		func(store.Row) error { return nil })
	if err != nil || count != 1 {
		t.Fatalf("scan during a write = %d rows, %v; want 1 row at once", count, err)
	}
	if _, err := s.GetFeed(readCtx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetFeed during a write: %v", err)
	}
}

// TestQueryPlans pins the plans the design relies on: the default match[version]=last
// reads the partial index in date_added order, match[id] the (id, version) index.
// explain returns SQLite's query plan of query, its steps joined by "; ".
func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "; ")
}

// longIDList is a match[id] list at the default cap.
var longIDList = func() []string {
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = indicator(i).ID
	}
	return ids
}()

func TestQueryPlans(t *testing.T) {
	s := newTestStore(t)
	plan := func(q store.Query) string {
		t.Helper()
		where, args, err := queryConditions(q, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		return explain(t, s, fmt.Sprintf(scanKeys, where), append(args, 0, 11)...)
	}
	for _, tt := range []struct {
		name string
		q    store.Query
		want string
	}{
		{"Latest", store.Query{}, "USING COVERING INDEX objects_latest"},
		{"LatestOfOneType", store.Query{Feed: store.FeedFilter{Types: []string{"indicator", "malware"}}, Types: []string{"indicator"}},
			"USING COVERING INDEX objects_latest_type (type=? AND date_added>?)"},
		{"LatestOfTypes", store.Query{Types: []string{"indicator", "malware"}}, "USING COVERING INDEX objects_latest (date_added>?)"},
		{"First", store.Query{Versions: store.VersionMatch{First: true}}, "USING INTEGER PRIMARY KEY (rowid>?)"},
		{"AllOfOneType", store.Query{Types: []string{"indicator"}, Versions: store.VersionMatch{All: true}}, "USING INTEGER PRIMARY KEY (rowid>?)"},
		{"ByID", store.Query{IDs: []string{"indicator--1"}}, "INDEX objects_id_version (id=?)"},
		{"ByIDAndType", store.Query{IDs: []string{"indicator--1"}, Types: []string{"indicator"}}, "INDEX objects_id_version (id=?)"},
		{"ByLongIDListAndTypes", store.Query{IDs: longIDList, Types: []string{"indicator", "malware"}}, "INDEX objects_id_version (id=?)"},
		{"ByLongIDListInAFeedOfOneType", store.Query{IDs: longIDList, Feed: store.FeedFilter{Types: []string{"indicator"}}}, "INDEX objects_id_version (id=?)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := plan(tt.q)
			if !strings.Contains(got, tt.want) {
				t.Fatalf("plan %q does not use %q", got, tt.want)
			}
			// Sorting is fine for the ids' few rows only.
			if strings.Contains(got, "TEMP B-TREE") && len(tt.q.IDs) == 0 {
				t.Fatalf("plan %q sorts instead of walking date_added", got)
			}
		})
	}
}

// A page of a feed served by its membership index reads the feed's own entries
// in primary key order, keys and rows, never objects nor the date_added index
// (every feed's entries): a range of adjacent rows however selective the feed.
func TestFeedPagePlans(t *testing.T) {
	s := newTestStore(t)
	const feedID = "00000000-0000-4000-8000-0000000000f1"
	if err := s.CreateFeed(t.Context(), store.Feed{ID: feedID, Title: "labelled", Filter: store.FeedFilter{Labels: []string{"l1"}, ExcludeExpired: true}}); err != nil {
		t.Fatal(err)
	}
	f, err := s.GetFeed(t.Context(), feedID)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []store.Query{{Feed: f.Filter}, {Feed: f.Filter, Versions: store.VersionMatch{First: true}},
		{Feed: f.Filter, Types: []string{"indicator"}, Versions: store.VersionMatch{All: true}}} {
		where, args, err := queryConditions(q, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, sql := range []string{fmt.Sprintf(scanMemberKeys, where), fmt.Sprintf(scanMemberRows, where)} {
			got := explain(t, s, sql, append(args, 0, 11)...)
			if !strings.Contains(got, "SEARCH feed_members USING PRIMARY KEY (feed_id=? AND date_added") ||
				strings.Contains(got, "objects") || strings.Contains(got, "TEMP B-TREE") {
				t.Errorf("%+v: plan %q is not a range of the feed's entries", q, got)
			}
		}
	}
}

func TestInterpretError(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	if _, err := s.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('x', x'00')`); err != nil {
		t.Fatal(err)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('x', x'00')`)
	if got := interpretError(err); !errors.Is(got, store.ErrConflict) {
		t.Errorf("primary key violation -> %v, want ErrConflict", got)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO feeds (id, title, alias, created_at) VALUES ('a', 't', 'same', 0), ('b', 't', 'same', 0)`)
	if got := interpretError(err); !errors.Is(got, store.ErrConflict) {
		t.Errorf("unique violation -> %v, want ErrConflict", got)
	}
	err = s.r.QueryRowContext(ctx, `SELECT 1 FROM feeds WHERE id = 'none'`).Scan(new(int))
	if got := interpretError(err); !errors.Is(got, store.ErrNotFound) {
		t.Errorf("no rows -> %v, want ErrNotFound", got)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO feeds (id) VALUES ('c')`)
	got := interpretError(err)
	if got == nil || errors.Is(got, store.ErrConflict) || errors.Is(got, store.ErrNotFound) {
		t.Errorf("not-null violation -> %v, want a plain error", got)
	}
	var driverErr interface{ Code() int }
	if errors.As(got, &driverErr) {
		t.Errorf("%v still exposes the driver error", got)
	}
	if interpretError(nil) != nil {
		t.Error("nil -> not nil")
	}
	if got := interpretError(fmt.Errorf("wrapped: %w", context.Canceled)); !errors.Is(got, context.Canceled) {
		t.Errorf("cancellation -> %v, want context.Canceled kept", got)
	}
}

// Phase 2 of an id list reads the page's rows by rowid, wherever they lie.
func TestRowsByKeyPlan(t *testing.T) {
	s := newTestStore(t)
	for _, q := range []string{scanRowsByKey, scanRowsByKeyNoRaw} {
		plan := explain(t, s, q, "[1,2,3]")
		if !strings.Contains(plan, "INTEGER PRIMARY KEY (rowid=?)") {
			t.Fatalf("plan %q does not read by rowid", plan)
		}
	}
}
