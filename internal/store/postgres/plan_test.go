package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
)

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
		rows, err := s.Pool().Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
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
		err = s.ScanObjects(ctx, q, func(p store.Page) error { page = p.Count; return nil }, func(store.Row) error { got++; return nil })
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

// A page of a feed served by its membership index reads its keys from that
// index alone when it asks for the latest (or first) versions, expired or not:
// the entries carry those columns. Probing objects once per entry cost a
// filtered page 2-4x an unfiltered one. Other conditions (match[type] here)
// still look each entry up in an index of objects, never by scanning objects.
func TestFeedPageKeysFromTheMembershipIndex(t *testing.T) {
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
	explain := func(q store.Query) string {
		t.Helper()
		sql, args := postgres.MemberKeysQuery(q)
		rows, err := s.Pool().Query(ctx, "EXPLAIN "+sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	for _, v := range []store.VersionMatch{{}, {First: true}, {Last: true, First: true}, {All: true}} {
		q := store.Query{Feed: f.Filter, Versions: v, After: 1, Limit: 100}
		if plan := explain(q); !strings.Contains(plan, "Index Only Scan using feed_members_pkey") || strings.Contains(plan, "objects") {
			t.Errorf("versions %+v: the keys are not read from the membership index alone:\n%s", v, plan)
		}
	}
	q := store.Query{Feed: f.Filter, Types: []string{"indicator"}, Limit: 100}
	if plan := explain(q); !strings.Contains(plan, "feed_members_pkey") || !strings.Contains(plan, "date_added = feed_members.obj)") ||
		strings.Contains(plan, "Seq Scan") {
		t.Errorf("match[type]: the entries are not looked up one by one in an index of objects:\n%s", plan)
	}
}
