package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

// exerciseSources asserts provenance: every version records its source, a
// confined writer changes only objects whose every version came from its own
// source, and the store refuses one object without failing the others.
func exerciseSources(t *testing.T, setup setupFunc) {
	x, y := objectID("indicator", 1), objectID("indicator", 2)
	from := func(o store.Object, source string, confined bool) store.Object {
		o.Source, o.Confined = source, confined
		return o
	}
	v1, v2, v3 := "2021-01-01T00:00:00.000Z", "2022-01-01T00:00:00.000Z", "2099-01-01T00:00:00.000Z"
	latest := func(t *testing.T, s store.Store, id string) []ref {
		t.Helper()
		_, rows := scan(t, t.Context(), s, store.Query{IDs: []string{id}, Limit: 10})
		return refs(rows)
	}

	t.Run("ConfinedAdd", func(t *testing.T) {
		s, ctx := setup(t)
		add(t, ctx, s, from(version(x, v1), "a", true))
		out := add(t, ctx, s,
			from(version(x, v3), "b", true), // another source's object: refused
			from(version(y, v1), "b", true), // a new object: b's
			from(version(x, v1), "a", true), // a's own version again: unchanged
			from(version(x, v2), "a", true), // a's own object: added
			from(version(y, v2), "a", true)) // b's object, now: refused
		if !errors.Is(out[0].Refused, store.ErrOtherSource) || out[0].Added {
			t.Fatalf("another source's object: outcome %+v, want refused with ErrOtherSource", out[0])
		}
		if !out[1].Added || out[1].Refused != nil || out[2].Added || out[2].Refused != nil || !out[3].Added || out[3].Refused != nil {
			t.Fatalf("own objects: outcomes %+v", out[1:4])
		}
		if !errors.Is(out[4].Refused, store.ErrOtherSource) {
			t.Fatalf("b's object, added by a in the same call after b: %+v, want ErrOtherSource", out[4])
		}
		if got, want := latest(t, s, x), refsTo(version(x, v2)); !slices.Equal(got, want) {
			t.Fatalf("latest of x = %v, want %v: the refused 2099 version must not be stored", got, want)
		}

		// Unconfined (an admin, the CLI) writes anything; then x has two sources,
		// and neither may change it confined.
		if out := add(t, ctx, s, from(version(x, v3), "admin", false)); !out[0].Added {
			t.Fatalf("unconfined add: %+v", out[0])
		}
		if out := add(t, ctx, s, from(object(x, v1, "2023-01-01T00:00:00.000Z"), "a", true)); !errors.Is(out[0].Refused, store.ErrOtherSource) {
			t.Fatalf("a adds to an object with an admin's version: %+v, want ErrOtherSource", out[0])
		}
	})

	t.Run("OneRefusalDoesNotFailTheCall", func(t *testing.T) {
		s, ctx := setup(t)
		// Versions that are no timestamps: the store cannot order them (callers
		// validate first; the store still must not fail the others).
		leap, long := version(x, "2020-13-45T00:00:00.000Z"), version(objectID("indicator", 3), "yesterday")
		good := from(version(y, v1), "a", false)
		out := add(t, ctx, s, from(leap, "a", false), good, from(long, "a", false))
		if out[0].Refused == nil || out[2].Refused == nil || out[0].Added || out[2].Added {
			t.Fatalf("unorderable versions: outcomes %+v, %+v; want refused", out[0], out[2])
		}
		if !out[1].Added || out[1].Refused != nil || out[1].DateAdded == 0 {
			t.Fatalf("valid object beside them: %+v, want added", out[1])
		}
		_, rows := scan(t, ctx, s, store.Query{Versions: store.VersionMatch{All: true}, Limit: 10})
		if got, want := refs(rows), refsTo(good); !slices.Equal(got, want) {
			t.Fatalf("stored %v, want %v", got, want)
		}
		if !bytes.Equal(rows[0].Raw, good.Raw) {
			t.Fatalf("raw %s", rows[0].Raw)
		}
	})

	t.Run("ConfinedDelete", func(t *testing.T) {
		s, ctx := setup(t)
		all := store.VersionMatch{All: true}
		add(t, ctx, s, from(version(x, v1), "a", false), from(version(x, v2), "a", false), from(version(y, v1), "b", false))
		if _, err := s.DeleteObject(ctx, store.FeedFilter{}, x, all, nil, "b"); !errors.Is(err, store.ErrOtherSource) {
			t.Fatalf("b deletes a's object: err = %v, want ErrOtherSource", err)
		}
		// Selecting only versions a stored does not help once another source has one.
		add(t, ctx, s, from(version(x, v3), "b", false))
		first := store.VersionMatch{First: true}
		if _, err := s.DeleteObject(ctx, store.FeedFilter{}, x, first, nil, "a"); !errors.Is(err, store.ErrOtherSource) {
			t.Fatalf("a deletes its version of a shared object: err = %v, want ErrOtherSource", err)
		}
		if got := latest(t, s, x); !slices.Equal(got, refsTo(version(x, v3))) {
			t.Fatalf("after refused deletes, latest of x = %v", got)
		}
		_, rows := scan(t, ctx, s, store.Query{IDs: []string{x}, Versions: all, Limit: 10})
		if len(rows) != 3 {
			t.Fatalf("a refused delete removed versions: %v", refs(rows))
		}
		// What the feed does not show is not found, whoever owns it.
		if _, err := s.DeleteObject(ctx, store.FeedFilter{Types: []string{"malware"}}, y, all, nil, "a"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete outside the feed: err = %v, want ErrNotFound", err)
		}
		if n, err := s.DeleteObject(ctx, store.FeedFilter{}, y, all, nil, "b"); err != nil || n != 1 {
			t.Fatalf("b deletes its own object: %d, %v", n, err)
		}
		if n, err := s.DeleteObject(ctx, store.FeedFilter{}, x, all, nil, ""); err != nil || n != 3 {
			t.Fatalf("unconfined delete: %d, %v; want 3, nil", n, err)
		}
	})

	t.Run("ListSourcesAndKeySources", func(t *testing.T) {
		s, ctx := setup(t)
		add(t, ctx, s, from(version(x, v1), "a", false), from(version(x, v2), "a", false),
			from(version(y, v1), "b", false), from(version(objectID("malware", 1), v1), "b", false))
		hash := bytes.Repeat([]byte{1}, 32)
		keys := []store.APIKey{
			{ID: "11111111-2222-4333-8444-555555555101", Name: "writer-c", Role: store.RoleReadWrite, Hash: hash, CreatedAt: at(1)},
			{ID: "11111111-2222-4333-8444-555555555102", Name: "writer-d", Source: "b", Role: store.RoleReadWrite, Hash: hash, CreatedAt: at(2)},
			{ID: "11111111-2222-4333-8444-555555555103", Name: "gone", Role: store.RoleReadWrite, Hash: hash, CreatedAt: at(3)},
		}
		for _, k := range keys {
			if err := s.CreateKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RevokeKey(ctx, keys[2].ID); err != nil {
			t.Fatal(err)
		}
		for i, want := range []string{"writer-c", "b"} {
			k, err := s.GetKey(ctx, keys[i].ID)
			if err != nil || k.Source != want {
				t.Fatalf("key %s: source %q, %v; want %q (a key's source defaults to its name)", k.Name, k.Source, err, want)
			}
		}
		got, err := s.ListSources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.SourceCount{{Source: "a", Objects: 1}, {Source: "b", Objects: 2}, {Source: "writer-c", Objects: 0}}
		if !slices.Equal(got, want) {
			t.Fatalf("ListSources = %+v, want %+v (objects per source; active keys' sources too)", got, want)
		}
	})
}

// Rows that a store at migration 1 (before sources) holds: SeedBeforeSources
// describes them, CheckSourcesMigrated asserts what migration 2 made of them.
const (
	SeedObjectID = "indicator--00000000-0000-4000-8000-000000000001"
	SeedKeyID    = "11111111-2222-4333-8444-555555555901"
	SeedKeyName  = "old-writer"
)

// CheckSourcesMigrated asserts, on a store migrated after SeedObjectID and
// SeedKeyID were stored without sources, that the object belongs to "import"
// and the key's source is its name.
func CheckSourcesMigrated(t *testing.T, s store.Store) {
	t.Helper()
	got, err := s.ListSources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.SourceCount{{Source: "import", Objects: 1}, {Source: SeedKeyName, Objects: 0}}; !slices.Equal(got, want) {
		t.Fatalf("after migrating: sources %+v, want %+v", got, want)
	}
	k, err := s.GetKey(t.Context(), SeedKeyID)
	if err != nil || k.Source != SeedKeyName {
		t.Fatalf("after migrating: key source %q, %v; want its name %q", k.Source, err, SeedKeyName)
	}
	// The migrated object is import's: a confined key cannot change it.
	o := version(SeedObjectID, "2030-01-01T00:00:00.000Z")
	o.Source, o.Confined = SeedKeyName, true
	if out := add(t, t.Context(), s, o); !errors.Is(out[0].Refused, store.ErrOtherSource) {
		t.Fatalf("a key adds to a migrated object: %+v, want ErrOtherSource", out[0])
	}
}
