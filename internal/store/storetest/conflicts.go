package storetest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// relaid is o with the same JSON value written differently (spacing only).
func relaid(o store.Object) store.Object {
	o.Raw = []byte(strings.ReplaceAll(string(o.Raw), `,"`, `, "`))
	return o
}

// changed is o with other content under the same id and version.
func changed(o store.Object, name string) store.Object {
	o.Raw = []byte(strings.Replace(string(o.Raw), `"name":"caf\u00e9 ☕ \"q\""`, `"name":"`+name+`"`, 1))
	return o
}

// exerciseConflicts: a version met again is unchanged when its content is the
// same JSON value and a conflict when it is not; either way the first content
// stays, its date_added does not move and nothing new becomes visible.
func exerciseConflicts(t *testing.T, setup setupFunc) {
	t.Run("SameContentIsUnchangedOtherContentConflicts", func(t *testing.T) {
		s, ctx := setup(t)
		first := version(objectID("indicator", 1), "2021-01-01T00:00:00.000Z")
		if bytes.Equal(relaid(first).Raw, first.Raw) || bytes.Equal(changed(first, "x").Raw, first.Raw) {
			t.Fatal("fixture: relaid or changed left the bytes as they were")
		}
		out1 := add(t, ctx, s, first)
		out2 := add(t, ctx, s, relaid(first), changed(first, "other"))
		if out2[0].Added || out2[0].Conflict || out2[0].DateAdded != out1[0].DateAdded {
			t.Errorf("same content: %+v, want unchanged at %d", out2[0], out1[0].DateAdded)
		}
		if out2[1].Added || !out2[1].Conflict || out2[1].DateAdded != out1[0].DateAdded {
			t.Errorf("other content: %+v, want a conflict at %d", out2[1], out1[0].DateAdded)
		}
		// A poller that has seen the first sees nothing new, and the first bytes stay.
		_, rows := scan(t, ctx, s, store.Query{Versions: all, Limit: 10, AddedAfter: out1[0].DateAdded})
		if len(rows) != 0 {
			t.Errorf("after the conflict a poller sees %d new rows", len(rows))
		}
		_, rows = scan(t, ctx, s, store.Query{Versions: all, Limit: 10})
		if len(rows) != 1 || !bytes.Equal(rows[0].Raw, first.Raw) || rows[0].DateAdded != out1[0].DateAdded {
			t.Fatalf("stored %+v, want the first version only", rows)
		}
	})

	t.Run("WithinOneCallTheFirstIsKept", func(t *testing.T) {
		s, ctx := setup(t)
		a := version(objectID("indicator", 1), "2021-01-01T00:00:00.000Z")
		b := version(objectID("indicator", 2), "2021-01-01T00:00:00.000Z")
		add(t, ctx, s, a)
		// New b: its second copy conflicts with the first, the third is the first again.
		// Stored a: each copy is compared with the stored one, not with the call's first.
		out := add(t, ctx, s, b, changed(b, "two"), relaid(b), changed(a, "one"), relaid(a))
		want := []struct{ added, conflict bool }{{true, false}, {false, true}, {false, false}, {false, true}, {false, false}}
		for i, w := range want {
			if out[i].Added != w.added || out[i].Conflict != w.conflict {
				t.Errorf("outcome %d = %+v, want added %v, conflict %v", i, out[i], w.added, w.conflict)
			}
		}
		if out[1].DateAdded != out[0].DateAdded || out[2].DateAdded != out[0].DateAdded {
			t.Errorf("repeats of b report %d, %d; want %d", out[1].DateAdded, out[2].DateAdded, out[0].DateAdded)
		}
		_, rows := scan(t, ctx, s, store.Query{Versions: all, IDs: []string{b.ID}, Limit: 10})
		if len(rows) != 1 || !bytes.Equal(rows[0].Raw, b.Raw) {
			t.Fatalf("stored b %+v, want its first content", rows)
		}
	})

	t.Run("AGivenDigestIsTheComputedOne", func(t *testing.T) {
		s, ctx := setup(t)
		a := version(objectID("indicator", 1), "2021-01-01T00:00:00.000Z")
		d, err := stix.Digest(a.Raw)
		if err != nil {
			t.Fatal(err)
		}
		withDigest := relaid(a)
		withDigest.Digest = d
		add(t, ctx, s, withDigest)
		if out := add(t, ctx, s, a); out[0].Added || out[0].Conflict {
			t.Fatalf("the same content without a digest: %+v, want unchanged", out[0])
		}
	})
}

// ExerciseLegacyDigests proves that versions stored before content digests
// (migration 9) are compared by their bytes, and their digest saved then. s is
// a new store; forget clears every stored digest, as before migration 9.
func ExerciseLegacyDigests(t *testing.T, s store.Store, forget func(t *testing.T)) {
	t.Helper()
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a := version(objectID("indicator", 1), "2021-01-01T00:00:00.000Z")
	b := version(objectID("indicator", 2), "2021-01-01T00:00:00.000Z")
	first := add(t, ctx, s, a, b)
	forget(t)
	for round := range 2 { // the second round reads the digests the first saved
		out := add(t, ctx, s, relaid(a), changed(b, "other"))
		if out[0].Added || out[0].Conflict || out[0].DateAdded != first[0].DateAdded {
			t.Errorf("round %d: same content: %+v, want unchanged", round, out[0])
		}
		if out[1].Added || !out[1].Conflict || out[1].DateAdded != first[1].DateAdded {
			t.Errorf("round %d: other content: %+v, want a conflict", round, out[1])
		}
	}
}
