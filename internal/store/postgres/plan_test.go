package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
)

// explainLines is Postgres's plan of sql, a line each, as db (a pool or a
// transaction, with its settings) would run it.
func explainLines(t *testing.T, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, args []any) []string {
	t.Helper()
	rows, err := db.Query(t.Context(), "EXPLAIN "+sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// A long match[id] list is read through the id index, never by walking the feed
// in date_added order and filtering ids on the way: 1,400 ids in a 350k-object
// feed took 4 s that way.
func TestIDListUsesTheIDIndex(t *testing.T) {
	s := pgtest.New(t)
	ctx := t.Context()
	const n, batch = 25_000, 2_500
	id := func(i int) string { return fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i) }
	for b := 0; b < n; b += batch {
		objs := make([]store.Object, batch)
		for i := range objs {
			objs[i] = store.Object{ID: id(b + i), Type: "indicator", SpecVersion: "2.1", Created: "2021-01-01T00:00:00Z",
				Raw: []byte(`{"type":"indicator","id":"` + id(b+i) + `","pattern":"[file:hashes.'SHA-256' = '` + strings.Repeat("ab", 160) + `']"}`)}
		}
		if _, err := s.AddObjects(ctx, objs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Analyze(ctx); err != nil {
		t.Fatal(err)
	}
	// Ids spread over the whole feed, as a client asking about its sightings would
	// send, in the proportion of the report (1,400 of 350k objects).
	var ids []string
	for i := 0; i < n; i += n / 100 {
		ids = append(ids, id(i))
	}
	for _, q := range []store.Query{
		{IDs: ids, Limit: 1000},
		{IDs: ids, Limit: 10},
		{IDs: ids, Types: []string{"indicator"}, Limit: 100},
		{IDs: ids, Feed: store.FeedFilter{Types: []string{"indicator", "malware"}}, Versions: store.VersionMatch{All: true}, Limit: 10},
	} {
		sql, args := postgres.KeysQuery(q)
		lines := explainLines(t, s.Pool(), sql, args)
		for i, l := range lines {
			if len(l) > 160 { // not the whole id list
				lines[i] = l[:160] + "..."
			}
		}
		plan := strings.Join(lines, "\n")
		if !strings.Contains(plan, "objects_version_uniq") || strings.Contains(plan, "Seq Scan on objects") {
			t.Fatalf("query %+v does not go through the id index:\n%s", q.Feed, plan)
		}
		start := time.Now()
		page, got := 0, 0
		err := s.ScanObjects(ctx, q, func(p store.Page) error { page = p.Count; return nil }, func(store.Row) error { got++; return nil })
		if err != nil || page != min(q.Limit, len(ids)) || got != page {
			t.Fatalf("scan: page %d, %d rows, %v", page, got, err)
		}
		t.Logf("%d ids, limit %d: %s", len(ids), q.Limit, time.Since(start))
	}
}

// Key (every request), feed and status lookups compare the id as a uuid, which
// the primary key serves; id::text = lower($1) could only scan the table. The
// tables of a test are tiny, so the planner is told to avoid a sequential scan
// wherever an index can do, and the plan must look the id up in the index.
func TestLookupsUseThePrimaryKey(t *testing.T) {
	s := pgtest.New(t)
	ctx := t.Context()
	conn, err := s.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), `RESET enable_seqscan`) //nolint:errcheck // the connection goes back to a test pool
	for name, l := range postgres.Lookups {
		rows, err := conn.Query(ctx, "EXPLAIN "+l.SQL, l.Args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		// "Index Cond: (id = ...)": the index finds the row; a scan of the whole
		// index with a filter (what id::text gets) does not count.
		if p := strings.Join(plan, "\n"); strings.Contains(p, "Seq Scan") || !strings.Contains(p, "_pkey") || !strings.Contains(p, "Index Cond: (id = ") {
			t.Errorf("%s lookup does not find the id through the primary key:\n%s", name, p)
		}
	}
}

// A page of a feed served by its membership index reads its keys and its rows
// from the feed's own partition of feed_members alone, never from objects: the
// entries carry every column a page reads, and lie together. Reading a
// selective feed's rows from objects by primary key, one table page per row,
// cost a page of a 0.1% feed 2.9x the CPU of an unfiltered page. The keys of
// the latest (or first) versions, expired or not, come from the index alone.
func TestFeedPageFromTheFeedsOwnEntries(t *testing.T) {
	s := pgtest.New(t)
	ctx := t.Context()
	const feedID = "00000000-0000-4000-8000-0000000000f1"
	if err := s.CreateFeed(ctx, store.Feed{ID: feedID, Title: "labelled", Filter: store.FeedFilter{Labels: []string{"l1"}, ExcludeExpired: true}}); err != nil {
		t.Fatal(err)
	}
	objs := make([]store.Object, 5_000)
	for i := range objs {
		id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i)
		objs[i] = store.Object{ID: id, Type: "indicator", SpecVersion: "2.1", Created: "2021-01-01T00:00:00Z",
			Raw: []byte(fmt.Sprintf(`{"type":"indicator","id":%q,"labels":["l%d"],"valid_until":"2099-01-01T00:00:00Z"}`, id, i%10))}
	}
	if _, err := s.AddObjects(ctx, objs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `VACUUM ANALYZE objects, feed_members`); err != nil {
		t.Fatal(err)
	}
	f, err := s.GetFeed(ctx, feedID)
	if err != nil {
		t.Fatal(err)
	}
	// As ScanObjects reads a feed's entries: never sorted.
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	if _, err := tx.Exec(ctx, `SET LOCAL enable_sort = off`); err != nil {
		t.Fatal(err)
	}
	explain := func(sql string, args []any) string {
		t.Helper()
		return strings.Join(explainLines(t, tx, sql, args), "\n")
	}
	partition := "feed_members_" + strings.ReplaceAll(feedID, "-", "")
	for _, v := range []store.VersionMatch{{}, {First: true}, {Last: true, First: true}, {All: true}} {
		keys, rows, args := postgres.PageQueries(store.Query{Feed: f.Filter, Versions: v, After: 1, Limit: 100}, 1, 1<<62)
		if plan := explain(keys, args); !strings.Contains(plan, "Index Only Scan using "+partition+"_pkey") || strings.Contains(plan, "objects") {
			t.Errorf("versions %+v: the keys are not read from the feed's index alone:\n%s", v, plan)
		}
		if plan := explain(rows, args); !strings.Contains(plan, partition) || strings.Contains(plan, "objects") {
			t.Errorf("versions %+v: the rows are not read from the feed's entries alone:\n%s", v, plan)
		}
	}
	keys, rows, args := postgres.PageQueries(store.Query{Feed: f.Filter, Types: []string{"indicator"}, Limit: 100}, 1, 1<<62)
	for _, sql := range []string{keys, rows} {
		if plan := explain(sql, args); !strings.Contains(plan, partition+"_pkey") || strings.Contains(plan, "objects") ||
			strings.Contains(plan, "Seq Scan") {
			t.Errorf("match[type]: not a range of the feed's index:\n%s", plan)
		}
	}
}

// Each feed's entries are a partition of feed_members that lives as long as the
// feed: created with it, kept (not rebuilt) by an update that leaves its filter
// alone, rebuilt by one that changes it, dropped with it. A page reads and
// locks that partition alone, however many feeds there are, even through a
// cached generic plan: with the feed's id a parameter, every read locked every
// feed's partition and indexes, which hundreds of feeds and many readers would
// make overflow Postgres's lock table.
func TestFeedPartitions(t *testing.T) {
	s := pgtest.New(t)
	ctx := t.Context()
	feedID := func(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", 0xf00+i) }
	partition := func(id string) string { return "feed_members_" + strings.ReplaceAll(id, "-", "") }
	const feeds = 30
	for i := range feeds {
		f := store.Feed{ID: feedID(i), Title: fmt.Sprint("feed ", i), Filter: store.FeedFilter{Labels: []string{fmt.Sprint("l", i%10)}}}
		if err := s.CreateFeed(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	objs := make([]store.Object, 1_000)
	for i := range objs {
		id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i)
		objs[i] = store.Object{ID: id, Type: "indicator", SpecVersion: "2.1", Created: "2021-01-01T00:00:00Z",
			Raw: []byte(fmt.Sprintf(`{"type":"indicator","id":%q,"labels":["l%d"]}`, id, i%10))}
	}
	if _, err := s.AddObjects(ctx, objs); err != nil {
		t.Fatal(err)
	}
	entries := func(id string) (n int, versions string) {
		t.Helper()
		err := s.Pool().QueryRow(ctx, `SELECT count(*), coalesce(string_agg(xmin::text, ',' ORDER BY date_added), '')
			FROM `+partition(id)).Scan(&n, &versions)
		if err != nil {
			t.Fatal(err)
		}
		return n, versions
	}
	first := feedID(1)
	n, before := entries(first)
	if n != 100 {
		t.Fatalf("feed 1 holds %d entries in its partition, want 100", n)
	}

	f, err := s.GetFeed(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	f.Title, f.Filter.ExcludeExpired = "renamed", true // expiry is read-time: the entries stay
	if err := s.UpdateFeed(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, after := entries(first); after != before {
		t.Error("an update that keeps the filter rewrote the feed's entries")
	}
	f.Filter.Labels = []string{"l1", "l2"}
	if err := s.UpdateFeed(ctx, f); err != nil {
		t.Fatal(err)
	}
	if n, _ := entries(first); n != 200 {
		t.Errorf("after a filter change the partition holds %d entries, want 200", n)
	}

	// A cached generic plan, as Postgres picks after five runs of a statement.
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	f, err = s.GetFeed(ctx, feedID(2))
	if err != nil {
		t.Fatal(err)
	}
	keys, rows, args := postgres.PageQueries(store.Query{Feed: f.Filter, After: 1, Limit: 10}, 1, 1<<62)
	for _, sql := range []string{keys, rows} {
		for range 6 {
			r, err := tx.Query(ctx, sql, args...)
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var locked []string
	rs, err := tx.Query(ctx, `SELECT DISTINCT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		WHERE l.pid = pg_backend_pid() AND c.relname LIKE 'feed\_members\_%' AND c.relkind IN ('r', 'p')`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var name string
		if err := rs.Scan(&name); err != nil {
			t.Fatal(err)
		}
		locked = append(locked, name)
	}
	if rs.Err() != nil {
		t.Fatal(rs.Err())
	}
	if len(locked) != 1 || locked[0] != partition(feedID(2)) {
		t.Errorf("a page of one feed locked the partitions %v, want only %s", locked, partition(feedID(2)))
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	if err := s.DeleteFeed(ctx, first); err != nil {
		t.Fatal(err)
	}
	var left *string
	if err := s.Pool().QueryRow(ctx, `SELECT to_regclass($1)::text`, partition(first)).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != nil {
		t.Errorf("the deleted feed's partition %s is left", *left)
	}
	// The id can be taken again, and the new feed is filled from the store.
	if err := s.CreateFeed(ctx, store.Feed{ID: first, Title: "again", Filter: store.FeedFilter{Labels: []string{"l3"}}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := entries(first); n != 100 {
		t.Errorf("the re-created feed holds %d entries, want 100", n)
	}
}
