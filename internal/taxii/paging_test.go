package taxii

import (
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"

	"github.com/inthreat/taxii-server/internal/config"
)

const bulkCount = 2500

// bulkData adds bulkCount objects in ONE AddObjects call (one transaction), half
// indicators and half malware, and returns their ids in input order.
func bulkData(t *testing.T, b *bundle) []string {
	t.Helper()
	objs := make([]store.Object, bulkCount)
	ids := make([]string, bulkCount)
	for i := range objs {
		typ := "indicator"
		if i%2 == 1 {
			typ = "malware"
		}
		ids[i] = stixID(typ, i+1)
		objs[i] = stixObject(ids[i], created0, created0)
	}
	b.add(t, objs...)
	return ids
}

// pageSeq is what a client saw while paging: ids in order, and the date headers per page.
type pageSeq struct {
	ids           []string
	firsts, lasts []string
	requests      int
}

// pageByNext follows next while more is true, as taxii2-client's as_pages does:
// every request repeats the filters; limits cycles through limits.
func pageByNext(t *testing.T, b *bundle, key, endpoint, filters string, limits ...int) pageSeq {
	t.Helper()
	var s pageSeq
	next := ""
	for {
		q := filters + fmt.Sprintf("&limit=%d", limits[s.requests%len(limits)])
		if next != "" {
			q += "&next=" + url.QueryEscape(next)
		}
		r := b.get(t, key, endpoint+"?"+q).ok(t)
		s.requests++
		if string(r.body) == "{}" {
			t.Fatalf("empty page after %d requests", s.requests)
		}
		ids, more, nxt := pageIDs(t, r, endpoint)
		s.add(r, ids)
		if !more {
			if nxt != "" {
				t.Fatal("next without more")
			}
			return s
		}
		if nxt == "" {
			t.Fatal("more without next")
		}
		next = nxt
		if s.requests > bulkCount {
			t.Fatal("paging does not end")
		}
	}
}

// pageByAddedAfter re-polls with added_after = the last X-TAXII-Date-Added-Last,
// as Sentinel does, until a page is empty.
func pageByAddedAfter(t *testing.T, b *bundle, key, endpoint, filters string, limit int) pageSeq {
	t.Helper()
	var s pageSeq
	after := ""
	for {
		q := filters + fmt.Sprintf("&limit=%d", limit)
		if after != "" {
			q += "&added_after=" + after
		}
		r := b.get(t, key, endpoint+"?"+q).ok(t)
		s.requests++
		if string(r.body) == "{}" {
			return s
		}
		ids, _, _ := pageIDs(t, r, endpoint)
		s.add(r, ids)
		after = r.header.Get("X-TAXII-Date-Added-Last")
		if s.requests > bulkCount+1 {
			t.Fatal("paging does not end")
		}
	}
}

func (s *pageSeq) add(r response, ids []string) {
	s.ids = append(s.ids, ids...)
	s.firsts = append(s.firsts, r.header.Get("X-TAXII-Date-Added-First"))
	s.lasts = append(s.lasts, r.header.Get("X-TAXII-Date-Added-Last"))
}

func pageIDs(t *testing.T, r response, endpoint string) ([]string, bool, string) {
	t.Helper()
	if len(endpoint) > 9 && endpoint[len(endpoint)-9:] == "manifest/" {
		more, next, recs := r.manifest(t)
		ids := make([]string, len(recs))
		for i, rec := range recs {
			ids[i] = rec.ID
		}
		return ids, more, next
	}
	env := r.envelope(t)
	return env.ids(t), env.More, env.Next
}

// checkComplete asserts s holds exactly want, each once, and pages do not overlap.
func checkComplete(t *testing.T, s pageSeq, want []string) {
	t.Helper()
	seen := make(map[string]int, len(s.ids))
	for _, id := range s.ids {
		seen[id]++
	}
	missed, dup := 0, 0
	for _, id := range want {
		switch seen[id] {
		case 0:
			missed++
		case 1:
		default:
			dup++
		}
	}
	if missed != 0 || dup != 0 || len(s.ids) != len(want) {
		t.Fatalf("%d objects in %d requests: %d missed, %d duplicated, want %d", len(s.ids), s.requests, missed, dup, len(want))
	}
	for i := range s.firsts {
		if s.firsts[i] > s.lasts[i] || (i > 0 && s.firsts[i] <= s.lasts[i-1]) {
			t.Fatalf("page %d spans %s..%s after a page ending %s", i, s.firsts[i], s.lasts[i], s.lasts[i-1])
		}
	}
}

func TestPagingIsLossFree(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, Options{})
		ids := bulkData(t, b)
		var indicators []string
		for _, id := range ids {
			if id[:9] == "indicator" {
				indicators = append(indicators, id)
			}
		}
		objects := b.root + "/collections/" + feedAllID + "/objects/"
		manifest := b.root + "/collections/" + feedAllID + "/manifest/"

		t.Run("objects: next and added_after give the same sequence", func(t *testing.T) {
			byNext := pageByNext(t, b, "reader", objects, "", 97)
			checkComplete(t, byNext, ids)
			if !slices.Equal(byNext.ids, ids) {
				t.Fatal("objects added in one call do not come back in input order")
			}
			byAfter := pageByAddedAfter(t, b, "reader", objects, "", 97)
			checkComplete(t, byAfter, ids)
			if !slices.Equal(byNext.ids, byAfter.ids) || !slices.Equal(byNext.lasts, byAfter.lasts) {
				t.Fatal("next and added_after paging differ")
			}
		})
		t.Run("changing limits between pages", func(t *testing.T) {
			checkComplete(t, pageByNext(t, b, "reader", manifest, "", 1, 333, 50, 7), ids)
		})
		t.Run("match[type] both ways", func(t *testing.T) {
			byNext := pageByNext(t, b, "reader", objects, "match[type]=indicator", 100)
			checkComplete(t, byNext, indicators)
			byAfter := pageByAddedAfter(t, b, "reader", objects, "match[type]=indicator", 100)
			if !slices.Equal(byNext.ids, byAfter.ids) {
				t.Fatal("next and added_after paging differ under match[type]")
			}
		})
		t.Run("feed type filter, limited key", func(t *testing.T) {
			checkComplete(t, pageByNext(t, b, "limited", b.root+"/collections/indicators/objects/", "", 211), indicators)
			checkComplete(t, pageByAddedAfter(t, b, "limited", b.root+"/collections/indicators/manifest/", "", 211), indicators)
		})
		t.Run("default page size", func(t *testing.T) {
			env := b.get(t, "reader", objects).ok(t).envelope(t)
			if want := config.Default().DefaultPageSize; len(env.Objects) != want || !env.More {
				t.Fatalf("%d objects, more %v; want %d and more", len(env.Objects), env.More, want)
			}
		})
		t.Run("next with added_after is ANDed", func(t *testing.T) {
			r := b.get(t, "reader", objects+"?limit=10").ok(t)
			env := r.envelope(t)
			p2 := b.get(t, "reader", objects+"?limit=10&added_after=2000-01-01T00:00:00Z&next="+env.Next).ok(t).envelope(t)
			if got := p2.ids(t); !slices.Equal(got, ids[10:20]) {
				t.Fatalf("page 2: %v", got)
			}
		})
	})
}

func TestCursorTampering(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, Options{})
		filterData(t, b)
		b.add(t, stixObject(stixID("indicator", 6), created0, created0), stixObject(stixID("indicator", 7), created0, created0))
		coll := b.root + "/collections/" + feedAllID
		const filters = "match[type]=indicator&match[version]=all"
		env := b.get(t, "reader", coll+"/objects/?"+filters+"&limit=2").ok(t).envelope(t)
		if !env.More {
			t.Fatal("want a second page")
		}
		next := env.Next
		raw, err := base64.RawURLEncoding.DecodeString(next)
		if err != nil {
			t.Fatalf("next %q is not base64url: %v", next, err)
		}
		flip := func(i int) string {
			c := slices.Clone(raw)
			c[i] ^= 1
			return base64.RawURLEncoding.EncodeToString(c)
		}
		other, _ := newCursorCodec([]byte("another server's secret, 32 bytes"))
		var pos int64 = 1
		foreignSecret := other.encode(pos, binding{})

		accepted := []struct{ name, key, url string }{
			{"same query", "reader", coll + "/objects/?" + filters + "&limit=2&next=" + next},
			{"filters reordered and repeated", "reader", coll + "/objects/?match[version]=all&match[type]=indicator,indicator&next=" + next},
			{"other limit", "reader", coll + "/objects/?" + filters + "&limit=500&next=" + next},
			{"collection by alias", "reader", b.root + "/collections/all-intel/objects/?" + filters + "&next=" + next},
			{"without trailing slash", "reader", coll + "/objects?" + filters + "&next=" + next},
		}
		for _, c := range accepted {
			t.Run(c.name, func(t *testing.T) {
				got := b.get(t, c.key, c.url).ok(t).envelope(t)
				if len(got.Objects) == 0 {
					t.Fatal("empty second page")
				}
			})
		}
		refused := []struct{ name, key, url, want string }{
			{"garbled", "reader", coll + "/objects/?" + filters + "&next=not-a-cursor", "could not be decoded"},
			{"truncated", "reader", coll + "/objects/?" + filters + "&next=" + next[:len(next)-1], "could not be decoded"},
			{"extended", "reader", coll + "/objects/?" + filters + "&next=" + next + "AA", "could not be decoded"},
			{"other version byte", "reader", coll + "/objects/?" + filters + "&next=" + flip(0), "could not be decoded"},
			{"flipped position", "reader", coll + "/objects/?" + filters + "&next=" + flip(8), "integrity"},
			{"flipped binding", "reader", coll + "/objects/?" + filters + "&next=" + flip(12), "integrity"},
			{"flipped signature", "reader", coll + "/objects/?" + filters + "&next=" + flip(len(raw)-1), "integrity"},
			{"another secret", "reader", coll + "/objects/?" + filters + "&next=" + foreignSecret, "integrity"},
			{"another collection", "reader", b.root + "/collections/" + feedIndID + "/objects/?" + filters + "&next=" + next, "another query"},
			{"another filter set", "reader", coll + "/objects/?match[type]=malware&match[version]=all&next=" + next, "another query"},
			{"another version filter", "reader", coll + "/objects/?match[type]=indicator&next=" + next, "another query"},
			{"filters dropped", "reader", coll + "/objects/?next=" + next, "another query"},
			{"another key", "writer", coll + "/objects/?" + filters + "&next=" + next, "another query"},
			{"another endpoint", "reader", coll + "/manifest/?" + filters + "&next=" + next, "another query"},
			{"an object endpoint", "reader", coll + "/objects/" + ind1 + "/?match[version]=all&next=" + next, "another query"},
		}
		for _, c := range refused {
			t.Run(c.name, func(t *testing.T) {
				b.get(t, c.key, c.url).taxiiError(t, 400, c.want)
			})
		}
		t.Run("from one object to another", func(t *testing.T) {
			p := b.get(t, "reader", coll+"/objects/"+ind1+"/versions/?limit=1").ok(t)
			var v versionsResource
			mustJSON(t, p.body, &v)
			b.get(t, "reader", coll+"/objects/"+stixID("indicator", 6)+"/versions/?next="+v.Next).taxiiError(t, 400, "another query")
			b.get(t, "reader", coll+"/objects/"+ind1+"/?match[version]=all&next="+v.Next).taxiiError(t, 400, "another query")
			b.get(t, "reader", coll+"/objects/"+ind1+"/versions/?next="+v.Next).ok(t)
		})
		t.Run("valid on another replica or after a restart", func(t *testing.T) {
			h, err := NewHandler(withConfigDefaults(Options{}), st, nil)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			replica := &bundle{srv: srv, keys: b.keys}
			path := rootPathDefault + "/collections/" + feedAllID + "/objects/?" + filters + "&next=" + next
			if got := replica.get(t, "reader", srv.URL+path).ok(t).envelope(t); len(got.Objects) == 0 {
				t.Fatal("empty second page")
			}
		})
	})
}
