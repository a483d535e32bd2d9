package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/observables"
	"github.com/inthreat/taxii-server/internal/store"
)

// indicatorVersion is an indicator version whose observables are computed as ingest does.
func indicatorVersion(id, modified, pattern, extra string) store.Object {
	raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2020-01-01T00:00:00Z","modified":%q,`+
		`"pattern":%q,"pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"%s}`, id, modified, pattern, extra)
	return store.Object{ID: id, Type: "indicator", SpecVersion: "2.1", Created: "2020-01-01T00:00:00Z", Modified: modified,
		Raw: []byte(raw), Observables: observables.Of([]byte(raw))}
}

func findIDs(t *testing.T, ctx context.Context, s store.Store, feed store.FeedFilter, typ, value string) []ref {
	t.Helper()
	var got []ref
	err := s.FindByObservable(ctx, feed, typ, value, 10, func(r store.Row) error {
		got = append(got, refOf(r))
		return nil
	})
	if err != nil {
		t.Fatalf("FindByObservable: %v", err)
	}
	return got
}

func listAll(t *testing.T, ctx context.Context, s store.Store, feed store.FeedFilter, kind string, now int64, batch int) []string {
	t.Helper()
	var out []string
	after := ""
	for {
		got, err := s.ListEntries(ctx, feed, kind, after, now, batch)
		if err != nil {
			t.Fatalf("ListEntries: %v", err)
		}
		out = append(out, got...)
		if len(got) < batch {
			return out
		}
		after = got[len(got)-1]
	}
}

// µs of 2025-01-01 and 2035-01-01: "now" in these tests, and a valid_until after it.
const (
	now2025 = int64(1735689600000000)
	in2035  = `,"valid_until":"2035-01-01T00:00:00Z"`
	in2024  = `,"valid_until":"2024-01-01T00:00:00Z"`
)

func exerciseObservables(t *testing.T, setup setupFunc) {
	t.Run("LookupFollowsTheLatestVersion", func(t *testing.T) {
		s, ctx := setup(t)
		id := objectID("indicator", 1)
		v1 := indicatorVersion(id, "2021-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.7']", "")
		v2 := indicatorVersion(id, "2022-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.8']", "")
		other := indicatorVersion(objectID("indicator", 2), "2021-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'evil.example']", "")
		add(t, ctx, s, v1, other)
		if got := findIDs(t, ctx, s, store.FeedFilter{}, "ipv4-addr", "198.51.100.7"); !slices.Equal(got, refsTo(v1, other)) {
			t.Fatalf("before v2: %v", got)
		}
		add(t, ctx, s, v2)
		if got := findIDs(t, ctx, s, store.FeedFilter{}, "ipv4-addr", "198.51.100.7"); !slices.Equal(got, refsTo(other)) {
			t.Errorf("old value after v2: %v, want only the other indicator", got)
		}
		if got := findIDs(t, ctx, s, store.FeedFilter{}, "", "198.51.100.8"); !slices.Equal(got, refsTo(v2)) {
			t.Errorf("new value, any type: %v", got)
		}
		if got := findIDs(t, ctx, s, store.FeedFilter{}, "domain-name", "198.51.100.8"); len(got) != 0 {
			t.Errorf("wrong type matched: %v", got)
		}
		if got := findIDs(t, ctx, s, store.FeedFilter{Types: []string{"malware"}}, "", "198.51.100.8"); len(got) != 0 {
			t.Errorf("a feed without indicators shows %v", got)
		}
		// Deleting v2 makes v1 the latest again, with its observables.
		if _, err := s.DeleteObject(ctx, store.FeedFilter{}, id, store.VersionMatch{Last: true}, nil, ""); err != nil {
			t.Fatal(err)
		}
		if got := findIDs(t, ctx, s, store.FeedFilter{}, "ipv4-addr", "198.51.100.7"); !slices.Equal(got, refsTo(v1, other)) {
			t.Errorf("after deleting v2: %v", got)
		}
		// An older version arriving late does not take over.
		v0 := indicatorVersion(id, "2020-06-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.9']", "")
		add(t, ctx, s, v0)
		if got := findIDs(t, ctx, s, store.FeedFilter{}, "", "198.51.100.9"); len(got) != 0 {
			t.Errorf("an old version is found: %v", got)
		}
	})

	t.Run("BlocklistIsCurrentDistinctAndOrdered", func(t *testing.T) {
		s, ctx := setup(t)
		objs := []store.Object{
			indicatorVersion(objectID("indicator", 1), "2021-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.2']", ""),
			indicatorVersion(objectID("indicator", 2), "2021-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.1']", in2035),
			indicatorVersion(objectID("indicator", 3), "2021-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.2']", ""), // duplicate
			indicatorVersion(objectID("indicator", 4), "2021-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.3']", `,"revoked":true`),
			indicatorVersion(objectID("indicator", 5), "2021-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.4']", in2024), // expired
			indicatorVersion(objectID("indicator", 6), "2021-01-01T00:00:00Z", "[ipv4-addr:value = '10.0.0.0/8']", ""),       // cidr
			indicatorVersion(objectID("indicator", 7), "2021-01-01T00:00:00Z", "[url:value = 'https://evil.example/x']", ""),
		}
		add(t, ctx, s, objs...)
		before, err := s.ListState(ctx, store.FeedFilter{}, observables.ListIPv4, now2025)
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{1, 2, 100} {
			if got := listAll(t, ctx, s, store.FeedFilter{}, observables.ListIPv4, now2025, batch); !slices.Equal(got, []string{"198.51.100.1", "198.51.100.2"}) {
				t.Errorf("ipv4 in batches of %d: %v", batch, got)
			}
		}
		if got := listAll(t, ctx, s, store.FeedFilter{}, observables.ListCIDR, now2025, 10); !slices.Equal(got, []string{"10.0.0.0/8"}) {
			t.Errorf("cidr: %v", got)
		}
		if got := listAll(t, ctx, s, store.FeedFilter{}, observables.ListURL, now2025, 10); !slices.Equal(got, []string{"evil.example/x"}) {
			t.Errorf("url: %v", got)
		}
		if got := listAll(t, ctx, s, store.FeedFilter{Types: []string{"malware"}}, observables.ListIPv4, now2025, 10); len(got) != 0 {
			t.Errorf("a feed without indicators lists %v", got)
		}
		if before.Changed == 0 || before.NextExpiry != 2051222400000000 || before.LastExpiry != 1704067200000000 {
			t.Errorf("state %+v: want a change time, the next expiry in 2035 and the last in 2024", before)
		}
		// Time passes: the expiries move, the change time does not.
		if later, err := s.ListState(ctx, store.FeedFilter{}, observables.ListIPv4, 2051222400000001); err != nil ||
			later.Changed != before.Changed || later.NextExpiry != 0 || later.LastExpiry != 2051222400000000 {
			t.Errorf("state in 2036 %+v, %v: want the same change time, no next expiry, the last in 2035", later, err)
		}
		// Revoking one of the duplicates keeps the entry; the state changes.
		add(t, ctx, s, indicatorVersion(objectID("indicator", 3), "2022-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.2']", `,"revoked":true`))
		after, err := s.ListState(ctx, store.FeedFilter{}, observables.ListIPv4, now2025)
		if err != nil {
			t.Fatal(err)
		}
		if after == before {
			t.Errorf("state unchanged by a revocation: %+v", after)
		}
		if got := listAll(t, ctx, s, store.FeedFilter{}, observables.ListIPv4, now2025, 10); !slices.Equal(got, []string{"198.51.100.1", "198.51.100.2"}) {
			t.Errorf("after revoking a duplicate: %v", got)
		}
		// Past 2035 the entry with valid_until expires.
		if got := listAll(t, ctx, s, store.FeedFilter{}, observables.ListIPv4, 2051222400000001, 10); !slices.Equal(got, []string{"198.51.100.2"}) {
			t.Errorf("in 2036: %v", got)
		}
		// Deleting an indicator changes the state even when nothing is added.
		if _, err := s.DeleteObject(ctx, store.FeedFilter{}, objectID("indicator", 1), store.VersionMatch{All: true}, nil, ""); err != nil {
			t.Fatal(err)
		}
		deleted, err := s.ListState(ctx, store.FeedFilter{}, observables.ListIPv4, now2025)
		if err != nil {
			t.Fatal(err)
		}
		if deleted == after {
			t.Errorf("state unchanged by a deletion: %+v", deleted)
		}
	})

	// The list state is read from the clock, not the list: every change that can
	// change a list moves it, each in its own way.
	t.Run("ListStateMovesOnEveryChange", func(t *testing.T) {
		s, ctx := setup(t)
		state := func() store.ListState {
			t.Helper()
			st, err := s.ListState(ctx, store.FeedFilter{}, observables.ListIPv4, now2025)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		empty := state()
		add(t, ctx, s, indicatorVersion(objectID("indicator", 1), "2021-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.1']", ""),
			indicatorVersion(objectID("indicator", 2), "2021-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.2']", ""))
		added := state()
		const feedID = "0b6d8a8e-4c1a-4f3e-9d8b-6f2c1a0e9d11"
		if err := s.CreateFeed(ctx, store.Feed{ID: feedID, Title: "f"}); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateFeed(ctx, store.Feed{ID: feedID, Title: "f", Filter: store.FeedFilter{MinConfidence: 50}}); err != nil {
			t.Fatal(err)
		}
		updated := state()
		if _, err := s.PurgeObjects(ctx, store.Purge{Before: time.Now().Add(time.Hour).UnixMicro(), Feed: store.FeedFilter{Types: []string{"indicator"}}}); err != nil {
			t.Fatal(err)
		}
		purged := state()
		for _, c := range []struct {
			what          string
			before, after store.ListState
		}{{"an addition", empty, added}, {"a feed update", added, updated}, {"a purge", updated, purged}} {
			if c.after.Changed <= c.before.Changed {
				t.Errorf("after %s the change time is %d, before %d", c.what, c.after.Changed, c.before.Changed)
			}
		}
	})

	t.Run("ModifiedAfter", func(t *testing.T) {
		s, ctx := setup(t)
		a := version(objectID("indicator", 1), "2021-01-01T00:00:00Z")
		b := version(objectID("indicator", 2), "2023-01-01T00:00:00.5Z")
		c := object(objectID("indicator", 3), "", "") // no version: never after anything
		add(t, ctx, s, a, b, c)
		_, rows := scan(t, ctx, s, store.Query{ModifiedAfter: versionKey(t, "2022-01-01T00:00:00Z"), Limit: 10})
		if got := refs(rows); !slices.Equal(got, refsTo(b)) {
			t.Errorf("modified after 2022: %v", got)
		}
	})
}

// ExerciseObservablesBackfill proves that migrating a store whose indicators were stored before the
// observables existed fills them. forget must drop the observables table and the record
// of its migration, so that the next Migrate applies it again.
func ExerciseObservablesBackfill(t *testing.T, s store.Store, forget func(ctx context.Context) error) {
	t.Helper()
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	id := objectID("indicator", 1)
	v1 := indicatorVersion(id, "2021-01-01T00:00:00Z", "[ipv4-addr:value = '198.51.100.7']", "")
	v2 := indicatorVersion(id, "2022-01-01T00:00:00Z", "[domain-name:value = 'evil.example']", "")
	v1.Observables, v2.Observables = nil, nil
	add(t, ctx, s, v1, v2, object(objectID("malware", 2), "2021-01-01T00:00:00Z", ""))
	if err := forget(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
	if got := findIDs(t, ctx, s, store.FeedFilter{}, "domain-name", "evil.example"); !slices.Equal(got, refsTo(v2)) {
		t.Errorf("back-filled latest version: %v", got)
	}
	if got := findIDs(t, ctx, s, store.FeedFilter{}, "", "198.51.100.7"); len(got) != 0 {
		t.Errorf("back-filled older version is found: %v", got)
	}
	if got := listAll(t, ctx, s, store.FeedFilter{}, observables.ListDomain, now2025, 10); !slices.Equal(got, []string{"evil.example"}) {
		t.Errorf("domain list after back-fill: %v", got)
	}
}
