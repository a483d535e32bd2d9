package taxii

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/server"
	"github.com/inthreat/taxii-server/internal/store"
)

// setupAssembled is setupWrite served through server.New, the handler the
// binary serves, with two writers confined to one feed each: "writer-a" to
// "all" (source: its name), "writer-b" to "windicators" (source "vendor-b").
func setupAssembled(t *testing.T, st store.Store) *bundle {
	t.Helper()
	b := setupWrite(t, st, Options{})
	for _, k := range []struct{ name, feed, source string }{
		{"writer-a", feedAllID, ""},
		{"writer-b", feedWIndID, "vendor-b"},
	} {
		plain, key, err := auth.Generate(k.name, store.RoleReadWrite, []string{k.feed}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		key.Source = k.source
		if err := st.CreateKey(t.Context(), key); err != nil {
			t.Fatal(err)
		}
		b.keys[k.name] = plain
	}
	h, err := NewHandler(Options{}, st, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	b.srv.Close()
	b.srv = httptest.NewServer(server.New(server.Options{TAXII: h, Store: st}))
	t.Cleanup(b.srv.Close)
	b.root = b.srv.URL + rootPathDefault
	return b
}

// TestWritersAreConfinedToTheirSource: a read-write key limited to feed A can
// neither delete nor outdate (a 2099 version) an object that another feed's
// writer stored; its other objects in the same request are stored (issue 10,
// items 2 and 3), and every version records the source of its key.
func TestWritersAreConfinedToTheirSource(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupAssembled(t, st)
		x, y := stixID("indicator", 1), stixID("indicator", 2)
		b.post(t, "writer-b", "windicators", envelopeOf(indicator(1, mod1))).accepted(t)
		b.get(t, "writer-a", b.objectsURL("windicators")).taxiiError(t, 404, "no collection")
		before := stored(t, st)

		// One object of the request belongs to vendor-b: it fails alone, the other is stored.
		const year2099 = "2099-01-01T00:00:00.000Z"
		s := b.post(t, "writer-a", "all", envelopeOf(indicator(1, year2099), indicator(2, mod1))).accepted(t)
		if got := s.successIDs(); !slices.Equal(got, []string{y + "@" + mod1}) {
			t.Fatalf("successes %v, want only %s", got, y)
		}
		if f := s.failure(t, x); f.Message != "object "+x+" belongs to another source" || f.Version != year2099 {
			t.Fatalf("failure of %s: %+v", x, f)
		}
		e := b.get(t, "writer-b", b.objectsURL("windicators")+"?match[id]="+x).ok(t).envelope(t)
		if len(e.Objects) != 1 || !strings.Contains(string(e.Objects[0]), mod1) {
			t.Fatalf("feed B serves %s after the refused 2099 version: %s", x, e.Objects)
		}

		// Delete: 403 with a TAXII error, and nothing deleted.
		b.del(t, "writer-a", "all", x, "").taxiiError(t, 403, "belongs to another source")
		after := stored(t, st)
		if len(after) != len(before)+1 || after[0] != before[0] {
			t.Fatalf("store after the refused writes: %v, want %v plus %s", storedRefs(after), storedRefs(before), y)
		}

		// Each writer still changes its own objects; an admin changes anything.
		b.post(t, "writer-b", "windicators", envelopeOf(indicator(1, mod2))).accepted(t)
		b.del(t, "writer-a", "all", y, "").deleted(t)
		sources, err := st.ListSources(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want := []store.SourceCount{{Source: "admin", Objects: 0}, {Source: "limited", Objects: 0}, {Source: "nofeeds", Objects: 0},
			{Source: "reader", Objects: 0}, {Source: "vendor-b", Objects: 1}, {Source: "writer", Objects: 0}, {Source: "writer-a", Objects: 0}}
		if !slices.Equal(sources, want) {
			t.Fatalf("sources %+v, want %+v", sources, want)
		}
		b.post(t, "admin", "all", envelopeOf(indicator(1, mod3))).accepted(t)
		b.del(t, "admin", "all", x, "").deleted(t)
		if rows := stored(t, st); len(rows) != 0 {
			t.Fatalf("after the admin's delete: %v", storedRefs(rows))
		}
	})
}
