package taxii

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/store"
)

// TestWritePermissions is the permission table of Add Objects (spec 5.5) and
// Delete an Object (spec 5.7) over every key role, collection writability and
// key feed limit: a collection the key may not read is 404; one it may read but
// not write (read-only key, or read-only collection) is 403; otherwise the write
// happens. can_write in Get a Collection says which, and a status is readable by
// whoever may read its collection. (A key that may write but not read is
// impossible with our roles: writing needs reading.)
func TestWritePermissions(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		ctx := context.Background()
		// "all" is writable, "secret" is not; both show every type.
		collections := []struct {
			name     string
			writable bool
		}{{"all", true}, {"secret", false}}
		type scope struct {
			name  string
			feeds []string
		}
		scopes := []scope{{"every feed", nil}, {"this feed", nil}, {"another feed", []string{feedIndID}}}
		roles := []store.Role{store.RoleReadOnly, store.RoleReadWrite, store.RoleAdmin}

		// An object both collections show, which no refused DELETE may remove.
		keep := stixID("malware", 9)
		b.post(t, "admin", "all", envelopeOf(malware(9, mod1))).accepted(t)

		n := 0
		for _, coll := range collections {
			feedID := b.feeds[coll.name].ID
			for _, role := range roles {
				for _, sc := range scopes {
					n++
					if sc.name == "this feed" {
						sc.feeds = []string{feedID}
					}
					name := fmt.Sprintf("%s/%s/%s", coll.name, role, sc.name)
					t.Run(name, func(t *testing.T) {
						plain, k, err := auth.Generate(name, role, sc.feeds, time.Now())
						if err != nil {
							t.Fatal(err)
						}
						if err := st.CreateKey(ctx, k); err != nil {
							t.Fatal(err)
						}
						b.keys[name] = plain

						canRead := sc.name != "another feed"
						canWrite := canRead && coll.writable && role != store.RoleReadOnly
						want := http.StatusAccepted
						switch {
						case !canRead:
							want = http.StatusNotFound
						case !canWrite:
							want = http.StatusForbidden
						}

						// Get a Collection tells the truth.
						rc := b.get(t, name, b.root+"/collections/"+feedID+"/")
						if !canRead {
							rc.taxiiError(t, 404, "no collection")
						} else {
							var c collectionResource
							mustJSON(t, rc.ok(t).body, &c)
							if !c.CanRead || c.CanWrite != canWrite {
								t.Fatalf("can_read %v, can_write %v; want true, %v", c.CanRead, c.CanWrite, canWrite)
							}
						}

						id := stixID("indicator", 1000+n)
						rp := b.post(t, name, coll.name, envelopeOf(indicator(1000+n, mod1)))
						rd := b.del(t, name, coll.name, keep, "")
						switch want {
						case http.StatusAccepted:
							s := rp.accepted(t)
							if *s.SuccessCount != 1 {
								t.Fatalf("status %+v", s)
							}
							// The writer reads its status; so does a reader of the collection.
							b.get(t, name, b.statusURL(s.ID)).ok(t)
							b.get(t, "reader", b.statusURL(s.ID)).ok(t)
							b.get(t, "limited", b.statusURL(s.ID)).taxiiError(t, 404, "no status")
							// Deleting works too: the object just added; what the admin
							// stored only for an admin key (then it is put back).
							b.del(t, name, coll.name, id, "").deleted(t)
							if role != store.RoleAdmin {
								rd.taxiiError(t, 403, "belongs to another source")
								break
							}
							rd.deleted(t)
							b.post(t, "admin", "all", envelopeOf(malware(9, mod1))).accepted(t)
						case http.StatusForbidden:
							reason := "read-only (can_write is false)"
							if coll.writable {
								reason = "may read collection"
							}
							rp.taxiiError(t, 403, reason)
							rd.taxiiError(t, 403, reason)
						case http.StatusNotFound:
							rp.taxiiError(t, 404, "no collection")
							rd.taxiiError(t, 404, "no collection")
						}
						refs := storedRefs(stored(t, st))
						if !slices.Contains(refs, keep+"@"+mod1) || slices.Contains(refs, id+"@"+mod1) {
							t.Fatalf("store holds %v: want %s kept and %s absent", refs, keep, id)
						}
					})
				}
			}
		}
		// Refused requests are refused before the body is looked at.
		b.post(t, "reader", "all", []byte("not even JSON"), withHeader("Content-Type", "text/plain")).taxiiError(t, 403, "may read collection")
		b.post(t, "limited", "all", []byte("not even JSON")).taxiiError(t, 404, "no collection")
		b.post(t, "", "all", envelopeOf(indicator(1, mod1))).taxiiError(t, 401, "API key")
		b.post(t, "revoked", "all", envelopeOf(indicator(1, mod1))).taxiiError(t, 401, "API key")
		b.del(t, "", "all", keep, "").taxiiError(t, 401, "API key")
		b.send(t, http.MethodPost, "writer", b.root+"/collections/no-such-collection/objects/", envelopeOf(indicator(1, mod1))).taxiiError(t, 404, "no collection")
		b.send(t, http.MethodDelete, "writer", b.root+"/collections/no-such-collection/objects/"+keep+"/", nil).taxiiError(t, 404, "no collection")
	})
}

// Methods the write endpoints do not take are 405 with the right Allow.
func TestWriteMethods(t *testing.T) {
	b := setupWrite(t, storeOf(t), Options{})
	coll := b.root + "/collections/" + feedAllID
	for _, c := range []struct{ method, url, allow string }{
		{http.MethodPut, coll + "/objects/", "GET, HEAD, POST"},
		{http.MethodDelete, coll + "/objects/", "GET, HEAD, POST"},
		{http.MethodPost, coll + "/objects/" + stixID("indicator", 1) + "/", "GET, HEAD, DELETE"},
		{http.MethodPost, b.root + "/status/2d086da7-4bdc-4f91-900e-d77486753710/", "GET, HEAD"},
		{http.MethodDelete, b.root + "/status/2d086da7-4bdc-4f91-900e-d77486753710/", "GET, HEAD"},
		{http.MethodDelete, coll + "/objects/" + stixID("indicator", 1) + "/versions/", "GET, HEAD"},
	} {
		r := b.send(t, c.method, "admin", c.url, envelopeOf(indicator(1, mod1)))
		r.taxiiError(t, 405, c.method)
		if got := r.header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.url, got, c.allow)
		}
	}
}
