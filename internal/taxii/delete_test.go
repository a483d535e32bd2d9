package taxii

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

func (b *bundle) del(t testing.TB, key, feed, id, query string) response {
	t.Helper()
	u := b.objectsURL(feed) + id + "/"
	if query != "" {
		u += "?" + query
	}
	return b.send(t, http.MethodDelete, key, u, nil, withoutHeader("Content-Type"))
}

// deleted checks the answer of spec 5.7: 200, the TAXII Content-Type, no body.
func (r response) deleted(t testing.TB) {
	t.Helper()
	if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Content-Type") != MediaTypeTAXII {
		t.Fatalf("DELETE answered %d %q with Content-Type %q; want 200, no body, %s", r.status, r.body, r.header.Get("Content-Type"), MediaTypeTAXII)
	}
}

func TestDeleteObject(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		id := stixID("indicator", 1)
		b.post(t, "writer", "all", envelopeOf(indicator(1, mod1), indicator(1, mod2), indicator(1, mod3), malware(2, mod1))).accepted(t)

		b.del(t, "writer", "all", id, "").deleted(t)

		// Gone from every read endpoint (spec 5.7), and only it.
		obj := b.objectsURL("all") + id + "/"
		b.get(t, "reader", obj).taxiiError(t, 404, id)
		b.get(t, "reader", obj+"?match[version]=all").taxiiError(t, 404, id)
		b.get(t, "reader", obj+"versions/").taxiiError(t, 404, id)
		if ids := b.get(t, "reader", b.objectsURL("all")+"?match[version]=all").ok(t).envelope(t).ids(t); !slices.Equal(ids, []string{stixID("malware", 2)}) {
			t.Fatalf("objects after the delete: %v", ids)
		}
		if _, _, m := b.get(t, "reader", b.root+"/collections/"+feedAllID+"/manifest/?match[version]=all").ok(t).manifest(t); len(m) != 1 || m[0].ID != stixID("malware", 2) {
			t.Fatalf("manifest after the delete: %+v", m)
		}
		// Feeds are views over one store: it has left the other collections too.
		b.get(t, "reader", b.root+"/collections/"+feedSecretID+"/objects/"+id+"/").taxiiError(t, 404, id)

		// Nothing left to delete.
		b.del(t, "writer", "all", id, "").taxiiError(t, 404, id)
		// Through the alias, without the trailing slash, as admin.
		r := b.send(t, http.MethodDelete, "admin", b.root+"/collections/all-intel/objects/"+stixID("malware", 2), nil)
		r.deleted(t)
		if rows := stored(t, st); len(rows) != 0 {
			t.Fatalf("store holds %v", storedRefs(rows))
		}
	})
}

func TestDeleteObjectVersionFilters(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		cases := []struct {
			query  string
			status int
			left   []string // versions left, in order
			want   string   // in the error description
		}{
			{"", 200, nil, ""},
			{"match[version]=all", 200, nil, ""},
			{"match[version]=last", 200, []string{mod1, mod2}, ""},
			{"match[version]=first", 200, []string{mod2, mod3}, ""},
			{"match[version]=" + mod2, 200, []string{mod1, mod3}, ""},
			{"match[version]=first,last", 200, []string{mod2}, ""},
			{"match[version]=" + mod1 + "," + mod3, 200, []string{mod2}, ""},
			{"match[version]=2026-03-01T00:00:00Z", 200, []string{mod1, mod3}, ""}, // the same instant as mod2
			{"match[spec_version]=2.1", 200, nil, ""},
			{"match[spec_version]=2.0,2.1&match[version]=last", 200, []string{mod1, mod2}, ""},
			{"match[spec_version]=2.0", 404, []string{mod1, mod2, mod3}, "no version of it matches"},
			{"match[version]=1999-01-01T00:00:00.000Z", 404, []string{mod1, mod2, mod3}, "no version of it matches"},
			{"match[version]=yesterday", 400, []string{mod1, mod2, mod3}, "match[version]"},
			{"match[version]=all,last", 400, []string{mod1, mod2, mod3}, "cannot be combined"},
			{"match[version]=last&match[version]=first", 400, []string{mod1, mod2, mod3}, "given 2 times"},
			{"match[spec_version]=2.1&match[spec_version]=2.0", 400, []string{mod1, mod2, mod3}, "given 2 times"},
			// Parameters Delete an Object does not take are ignored, as everywhere.
			{"match[type]=malware&match[id]=x&limit=1&added_after=2999-01-01T00:00:00Z", 200, nil, ""},
		}
		for i, c := range cases {
			t.Run(strings.ReplaceAll(c.query, "/", "_"), func(t *testing.T) {
				n := 100 + i
				id := stixID("indicator", n)
				b.post(t, "writer", "all", envelopeOf(indicator(n, mod2), indicator(n, mod1), indicator(n, mod3))).accepted(t)
				r := b.del(t, "writer", "all", id, c.query)
				if c.status == 200 {
					r.deleted(t)
				} else {
					r.taxiiError(t, c.status, c.want)
				}
				var left []string
				for _, row := range stored(t, st) {
					if row.ID == id {
						left = append(left, row.Version)
					}
				}
				slices.Sort(left)
				if !slices.Equal(left, c.left) {
					t.Fatalf("versions left %v, want %v", left, c.left)
				}
				// What the read side calls the object now.
				obj := b.get(t, "reader", b.objectsURL("all")+id+"/")
				if len(c.left) == 0 {
					obj.taxiiError(t, 404, id)
				} else if e := obj.ok(t).envelope(t); len(e.Objects) != 1 || string(e.Objects[0]) != indicator(n, c.left[len(c.left)-1]) {
					t.Fatalf("Get an Object serves %s, want version %s", e.Objects, c.left[len(c.left)-1])
				}
			})
		}
	})
}

// A collection deletes only what it shows; odd ids are 404 or 400, never a database error.
func TestDeleteObjectNotFound(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		before := seed(t, b)
		mal := stixID("malware", 2)
		b.del(t, "writer", "windicators", mal, "").taxiiError(t, 404, mal)
		for _, id := range []string{stixID("indicator", 99), "indicator--1", "'%20OR%201=1", strings.Repeat("x", 3000)} {
			plain, _ := url.PathUnescape(id)
			want := fmt.Sprintf("%q", plain)
			b.del(t, "writer", "all", id, "").taxiiError(t, 404, want[:min(len(want), 40)])
		}
		for _, id := range []string{"%FF%FE", "%00", "indicator--1%00"} {
			b.del(t, "writer", "all", id, "").taxiiError(t, 400, "invalid UTF-8 or a NUL")
		}
		unchanged(t, b, before)
	})
}

// TestDeleteAndPollers shows what a deletion means to clients that poll: it
// reaches only those that ask afterwards. A poller keeps what it pulled before
// (nothing can tell it), and paging on with next or added_after neither breaks
// nor repeats anything. An object added again after its deletion is new to the
// store, with a new date_added, so pollers receive it again. Withdrawing
// intelligence from consumers that already have it (Microsoft Sentinel) takes
// a new version with "revoked": true, which they receive like any new version.
func TestDeleteAndPollers(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		b.post(t, "writer", "all", envelopeOf(indicator(1, mod1), indicator(2, mod1), indicator(3, mod1), indicator(4, mod1))).accepted(t)
		page1 := b.get(t, "reader", b.objectsURL("all")+"?limit=2").ok(t)
		e1 := page1.envelope(t)
		if got := e1.ids(t); !slices.Equal(got, []string{stixID("indicator", 1), stixID("indicator", 2)}) || !e1.More {
			t.Fatalf("page 1: %v, more %v", got, e1.More)
		}
		last := page1.header.Get("X-TAXII-Date-Added-Last")

		// Delete one object the poller has, and one it has not reached yet.
		b.del(t, "writer", "all", stixID("indicator", 1), "").deleted(t)
		b.del(t, "writer", "all", stixID("indicator", 3), "").deleted(t)

		byNext := b.get(t, "reader", b.objectsURL("all")+"?limit=2&next="+url.QueryEscape(e1.Next)).ok(t).envelope(t)
		byDate := b.get(t, "reader", b.objectsURL("all")+"?limit=2&added_after="+url.QueryEscape(last)).ok(t).envelope(t)
		for _, e := range []envelope{byNext, byDate} {
			if got := e.ids(t); !slices.Equal(got, []string{stixID("indicator", 4)}) || e.More {
				t.Fatalf("the rest after the deletions: %v, more %v; want indicator 4 only", got, e.More)
			}
		}
		// A poller starting now never sees the deleted objects.
		if got := b.get(t, "reader", b.objectsURL("all")).ok(t).envelope(t).ids(t); !slices.Equal(got, []string{stixID("indicator", 2), stixID("indicator", 4)}) {
			t.Fatalf("full poll: %v", got)
		}

		// Re-adding a deleted object makes it new again: pollers get it on their next poll.
		lastPoll := b.get(t, "reader", b.objectsURL("all")).ok(t).header.Get("X-TAXII-Date-Added-Last")
		b.post(t, "writer", "all", envelopeOf(indicator(3, mod1))).accepted(t)
		// Revocation is a new version, delivered like any other.
		revoked := strings.Replace(indicator(2, mod2), `"name"`, `"revoked":true,"name"`, 1)
		b.post(t, "writer", "all", envelopeOf(revoked)).accepted(t)
		e := b.get(t, "reader", b.objectsURL("all")+"?added_after="+url.QueryEscape(lastPoll)).ok(t).envelope(t)
		if len(e.Objects) != 2 || string(e.Objects[0]) != indicator(3, mod1) || string(e.Objects[1]) != revoked {
			t.Fatalf("after the last poll: %s", e.Objects)
		}
	})
}
