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
