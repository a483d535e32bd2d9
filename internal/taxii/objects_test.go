package taxii

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// Versions of indicator 1, as stored (created fixed, modified varies).
const (
	created0 = "2026-01-01T00:00:00.000Z"
	v1       = "2026-01-01T00:00:00.000Z"
	v2       = "2026-01-02T00:00:00.000Z"
	v3       = "2026-01-03T00:00:00.000Z"
)

var (
	ind1 = stixID("indicator", 1)
	mal2 = stixID("malware", 2)
	ip3  = stixID("ipv4-addr", 3)
	ind4 = stixID("indicator", 4)
)

// filterData stores, in this date_added order: ind1@v1, mal2, ip3 (no created or
// modified), ind4, then ind1@v2, then ind1@v3. It returns the raw bytes by id@version.
func filterData(t *testing.T, b *bundle) map[string][]byte {
	t.Helper()
	objs := [][]store.Object{
		{stixObject(ind1, created0, v1), stixObject(mal2, created0, ""), stixObject(ip3, "", ""), stixObject(ind4, created0, created0)},
		{stixObject(ind1, created0, v2)},
		{stixObject(ind1, created0, v3)},
	}
	raw := map[string][]byte{}
	for _, batch := range objs {
		b.add(t, batch...)
		for _, o := range batch {
			raw[o.ID+"@"+store.ObjectVersion(o.Created, o.Modified)] = o.Raw
		}
	}
	return raw
}

var dateHeaderRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// manifestOf returns the manifest records of the collection for a query string.
func manifestOf(t *testing.T, b *bundle, feed, query string) []manifestRecord {
	t.Helper()
	_, _, recs := b.get(t, "reader", b.root+"/collections/"+feed+"/manifest/?"+query).ok(t).manifest(t)
	return recs
}

func TestObjectsFilters(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, Options{})
		raw := filterData(t, b)
		all := manifestOf(t, b, feedAllID, "match[version]=all")
		if len(all) != 6 {
			t.Fatalf("%d versions in the manifest, want 6", len(all))
		}
		dateOf := func(id, version string) string {
			for _, r := range all {
				if r.ID == id && r.Version == version {
					return r.DateAdded
				}
			}
			t.Fatalf("no %s@%s in manifest", id, version)
			return ""
		}

		cases := []struct {
			name, feed, query string
			want              []string // id@version, in order
		}{
			{"default is last", feedAllID, "", []string{mal2 + "@" + created0, ip3 + "@", ind4 + "@" + created0, ind1 + "@" + v3}},
			{"last", feedAllID, "match[version]=last", []string{mal2 + "@" + created0, ip3 + "@", ind4 + "@" + created0, ind1 + "@" + v3}},
			{"first", feedAllID, "match[version]=first", []string{ind1 + "@" + v1, mal2 + "@" + created0, ip3 + "@", ind4 + "@" + created0}},
			{"first,last", feedAllID, "match[version]=first,last", []string{ind1 + "@" + v1, mal2 + "@" + created0, ip3 + "@", ind4 + "@" + created0, ind1 + "@" + v3}},
			{"all", feedAllID, "match[version]=all", []string{ind1 + "@" + v1, mal2 + "@" + created0, ip3 + "@", ind4 + "@" + created0, ind1 + "@" + v2, ind1 + "@" + v3}},
			{"timestamp in another format", feedAllID, "match[version]=2026-01-02T00:00:00Z", []string{ind1 + "@" + v2}},
			{"two timestamps", feedAllID, "match[version]=" + v3 + "," + v1, []string{ind1 + "@" + v1, mal2 + "@" + created0, ind4 + "@" + created0, ind1 + "@" + v3}},
			{"type", feedAllID, "match[type]=malware,ipv4-addr", []string{mal2 + "@" + created0, ip3 + "@"}},
			{"spaces around values", feedAllID, "match[type]=malware,%20ipv4-addr%20", []string{mal2 + "@" + created0, ip3 + "@"}},
			{"id", feedAllID, "match[id]=" + ind4 + "," + mal2, []string{mal2 + "@" + created0, ind4 + "@" + created0}},
			{"id and type", feedAllID, "match[id]=" + ind4 + "," + mal2 + "&match[type]=indicator", []string{ind4 + "@" + created0}},
			{"spec_version", feedAllID, "match[spec_version]=2.1", []string{mal2 + "@" + created0, ip3 + "@", ind4 + "@" + created0, ind1 + "@" + v3}},
			{"other spec_version", feedAllID, "match[spec_version]=2.0", nil},
			{"feed type filter", feedIndID, "", []string{ind4 + "@" + created0, ind1 + "@" + v3}},
			{"feed type filter by alias", "indicators", "match[version]=all", []string{ind1 + "@" + v1, ind4 + "@" + created0, ind1 + "@" + v2, ind1 + "@" + v3}},
			{"feed filter and match[type] disjoint", feedIndID, "match[type]=malware", nil},
			{"added_after", feedAllID, "added_after=" + dateOf(mal2, created0), []string{ip3 + "@", ind4 + "@" + created0, ind1 + "@" + v3}},
			{"added_after with nanoseconds truncates", feedAllID, "added_after=" + strings.TrimSuffix(dateOf(mal2, created0), "Z") + "999Z", []string{ip3 + "@", ind4 + "@" + created0, ind1 + "@" + v3}},
			{"added_after one microsecond earlier", feedAllID, "added_after=" + microBefore(t, dateOf(mal2, created0)), []string{mal2 + "@" + created0, ip3 + "@", ind4 + "@" + created0, ind1 + "@" + v3}},
			{"added_after with an offset", feedAllID, "added_after=" + url.QueryEscape(withOffset(t, dateOf(ind4, created0))), []string{ind1 + "@" + v3}},
			{"added_after with an unescaped + offset", feedAllID, "added_after=" + withOffset(t, dateOf(ind4, created0)), []string{ind1 + "@" + v3}},
			{"added_after the last", feedAllID, "added_after=" + dateOf(ind1, v3), nil},
			{"unsupported and empty parameters are ignored", feedAllID, "match[foo]=bar&limit=&next=&match[type]=", []string{mal2 + "@" + created0, ip3 + "@", ind4 + "@" + created0, ind1 + "@" + v3}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				url := b.root + "/collections/" + c.feed + "/objects/?" + c.query
				r := b.get(t, "reader", url).ok(t)
				m := manifestOf(t, b, c.feed, c.query)
				if len(c.want) == 0 {
					if string(r.body) != "{}" || len(m) != 0 {
						t.Fatalf("objects %s, manifest %v; want {} for both", r.body, m)
					}
					// Spec 3.2: the headers are on every 200; an empty page names its
					// query's lower bound, the epoch without added_after.
					bound := store.FormatDateAdded(0)
					if v, ok := strings.CutPrefix(c.query, "added_after="); ok {
						bound = v
					}
					if f, l := r.header.Get("X-TAXII-Date-Added-First"), r.header.Get("X-TAXII-Date-Added-Last"); f != bound || l != bound {
						t.Fatalf("date_added headers %q, %q on an empty page; want %q for both", f, l, bound)
					}
					return
				}
				env := r.envelope(t)
				if env.More || env.Next != "" {
					t.Fatalf("more %v next %q on a complete page", env.More, env.Next)
				}
				if len(env.Objects) != len(c.want) || len(m) != len(c.want) {
					t.Fatalf("got %d objects, %d manifest records; want %v", len(env.Objects), len(m), c.want)
				}
				for i, w := range c.want {
					if !bytes.Equal(env.Objects[i], raw[w]) {
						t.Errorf("object %d: %s, want the stored bytes of %s: %s", i, env.Objects[i], w, raw[w])
					}
					id, version, _ := strings.Cut(w, "@")
					if m[i].ID != id || (version != "" && m[i].Version != version) || m[i].MediaType != MediaTypeSTIX {
						t.Errorf("manifest %d: %+v, want %s", i, m[i], w)
					}
				}
				first, last := r.header.Get("X-TAXII-Date-Added-First"), r.header.Get("X-TAXII-Date-Added-Last")
				if !dateHeaderRE.MatchString(first) || !dateHeaderRE.MatchString(last) {
					t.Fatalf("date headers %q %q", first, last)
				}
				if first != m[0].DateAdded || last != m[len(m)-1].DateAdded {
					t.Fatalf("headers %s..%s, manifest %s..%s", first, last, m[0].DateAdded, m[len(m)-1].DateAdded)
				}
			})
		}
		t.Run("manifest of an object without created or modified shows date_added as version", func(t *testing.T) {
			m := manifestOf(t, b, feedAllID, "match[id]="+ip3)
			if len(m) != 1 || m[0].Version != m[0].DateAdded || !dateHeaderRE.MatchString(m[0].Version) {
				t.Fatalf("%+v", m)
			}
		})
		t.Run("manifest golden", func(t *testing.T) {
			golden(t, "manifest", b.get(t, "reader", b.root+"/collections/"+feedAllID+"/manifest?match[version]=all&limit=4").ok(t).body)
		})
		t.Run("date_added ascending", func(t *testing.T) {
			if !slices.IsSortedFunc(all, func(a, b manifestRecord) int { return strings.Compare(a.DateAdded, b.DateAdded) }) {
				t.Fatalf("manifest not sorted by date_added: %+v", all)
			}
		})
	})
}

func microBefore(t *testing.T, ts string) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatal(err)
	}
	return tm.Add(-time.Microsecond).UTC().Format(store.DateAddedLayout)
}

func withOffset(t *testing.T, ts string) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatal(err)
	}
	return tm.In(time.FixedZone("", 3600)).Format("2006-01-02T15:04:05.000000000-07:00")
}

func TestGetAnObject(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, Options{})
		raw := filterData(t, b)
		objURL := func(feed, id, query string) string {
			return b.root + "/collections/" + feed + "/objects/" + id + "/?" + query
		}
		cases := []struct {
			name, feed, id, query string
			want                  []string
		}{
			{"default last", feedAllID, ind1, "", []string{v3}},
			{"all", feedAllID, ind1, "match[version]=all", []string{v1, v2, v3}},
			{"first", feedAllID, ind1, "match[version]=first", []string{v1}},
			{"timestamp", feedAllID, ind1, "match[version]=" + v2, []string{v2}},
			{"through the type filter", feedIndID, ind1, "match[version]=all", []string{v1, v2, v3}},
			{"match[type] and match[id] are not parameters here", feedAllID, ind1, "match[type]=malware&match[id]=" + mal2, []string{v3}},
			{"filtered out is {}", feedAllID, ind1, "match[spec_version]=2.0", nil},
			{"added_after in the future is {}", feedAllID, ind1, "added_after=2999-01-01T00:00:00Z", nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := b.get(t, "reader", objURL(c.feed, c.id, c.query)).ok(t)
				if c.want == nil {
					if string(r.body) != "{}" {
						t.Fatalf("got %s, want {}", r.body)
					}
					return
				}
				env := r.envelope(t)
				if len(env.Objects) != len(c.want) {
					t.Fatalf("%d objects, want %d: %s", len(env.Objects), len(c.want), r.body)
				}
				for i, v := range c.want {
					if !bytes.Equal(env.Objects[i], raw[c.id+"@"+v]) {
						t.Fatalf("object %d: %s, want version %s", i, env.Objects[i], v)
					}
				}
			})
		}
		t.Run("without trailing slash", func(t *testing.T) {
			b.get(t, "reader", b.root+"/collections/"+feedAllID+"/objects/"+ind1).ok(t)
		})
		t.Run("unknown object is 404", func(t *testing.T) {
			b.get(t, "reader", objURL(feedAllID, stixID("indicator", 99), "")).taxiiError(t, 404, "no object")
		})
		t.Run("object outside the feed filter is 404", func(t *testing.T) {
			b.get(t, "reader", objURL(feedIndID, mal2, "")).taxiiError(t, 404, "no object")
		})
		t.Run("paged by next", func(t *testing.T) {
			var got []json.RawMessage
			next := ""
			for range 5 {
				q := "match[version]=all&limit=1"
				if next != "" {
					q += "&next=" + next
				}
				env := b.get(t, "reader", objURL(feedAllID, ind1, q)).ok(t).envelope(t)
				got = append(got, env.Objects...)
				if !env.More {
					break
				}
				next = env.Next
			}
			if len(got) != 3 || !bytes.Equal(got[0], raw[ind1+"@"+v1]) || !bytes.Equal(got[2], raw[ind1+"@"+v3]) {
				t.Fatalf("paged versions: %s", got)
			}
		})
	})
}

type versionsResource struct {
	More     bool     `json:"more"`
	Next     string   `json:"next"`
	Versions []string `json:"versions"`
}

func TestObjectVersions(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, Options{})
		filterData(t, b)
		// indicator 5 gets its later version first: versions are in date_added order.
		ind5 := stixID("indicator", 5)
		b.add(t, stixObject(ind5, created0, v2))
		b.add(t, stixObject(ind5, created0, v1))

		versions := func(feed, id, query string) (response, versionsResource) {
			t.Helper()
			r := b.get(t, "reader", b.root+"/collections/"+feed+"/objects/"+id+"/versions/?"+query).ok(t)
			var v versionsResource
			if err := json.Unmarshal(r.body, &v); err != nil {
				t.Fatalf("%s: %v", r.body, err)
			}
			return r, v
		}
		r, v := versions(feedAllID, ind1, "")
		if !slices.Equal(v.Versions, []string{v1, v2, v3}) || v.More || v.Next != "" {
			t.Fatalf("versions of indicator 1: %s", r.body)
		}
		all := manifestOf(t, b, feedAllID, "match[version]=all&match[id]="+ind1)
		if r.header.Get("X-TAXII-Date-Added-First") != all[0].DateAdded || r.header.Get("X-TAXII-Date-Added-Last") != all[2].DateAdded {
			t.Fatalf("date headers %v, manifest %+v", r.header, all)
		}
		if _, v := versions(feedAllID, ind5, ""); !slices.Equal(v.Versions, []string{v2, v1}) {
			t.Fatalf("versions of indicator 5: %v, want date_added order [v2 v1]", v.Versions)
		}
		if _, v := versions(feedAllID, ip3, ""); len(v.Versions) != 1 || !dateHeaderRE.MatchString(v.Versions[0]) {
			t.Fatalf("an object without created/modified lists its date_added: %v", v.Versions)
		}
		if _, v := versions(feedAllID, ind1, "added_after="+all[0].DateAdded); !slices.Equal(v.Versions, []string{v2, v3}) {
			t.Fatalf("added_after: %v", v.Versions)
		}
		if r, _ := versions(feedAllID, ind1, "match[spec_version]=2.0"); string(r.body) != "{}" {
			t.Fatalf("no version left: %s, want {}", r.body)
		}
		if _, v := versions(feedAllID, ind1, "match[version]=first"); len(v.Versions) != 3 {
			t.Fatalf("match[version] is not a parameter of this endpoint: %v", v.Versions)
		}

		_, p1 := versions(feedAllID, ind1, "limit=2")
		if !p1.More || p1.Next == "" || !slices.Equal(p1.Versions, []string{v1, v2}) {
			t.Fatalf("page 1: %+v", p1)
		}
		_, p2 := versions(feedAllID, ind1, "limit=2&next="+p1.Next)
		if p2.More || !slices.Equal(p2.Versions, []string{v3}) {
			t.Fatalf("page 2: %+v", p2)
		}
		b.get(t, "reader", b.root+"/collections/"+feedAllID+"/objects/"+ind1+"/versions").ok(t)
		b.get(t, "reader", b.root+"/collections/"+feedAllID+"/objects/"+stixID("tool", 7)+"/versions/").taxiiError(t, 404, "no object")
		b.get(t, "reader", b.root+"/collections/"+feedIndID+"/objects/"+mal2+"/versions/").taxiiError(t, 404, "no object")
	})
}

func TestBadParameters(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, Options{})
		filterData(t, b)
		coll := b.root + "/collections/" + feedAllID
		endpoints := map[string]string{
			"objects":  coll + "/objects/",
			"manifest": coll + "/manifest/",
			"object":   coll + "/objects/" + ind1 + "/",
			"versions": coll + "/objects/" + ind1 + "/versions/",
		}
		cases := []struct {
			query, want string
			only        []string // endpoints that support the parameter; nil: all
		}{
			{"limit=0", `limit "0" is not a positive integer`, nil},
			{"limit=-1", `limit "-1" is not a positive integer`, nil},
			{"limit=abc", `limit "abc" is not a positive integer`, nil},
			{"limit=1.5", `limit "1.5" is not a positive integer`, nil},
			{"limit=-99999999999999999999", `is not a positive integer`, nil},
			{"limit=1&limit=2", "limit is given 2 times; give it once.", nil},
			{"added_after=yesterday", `added_after "yesterday" is not an RFC 3339 timestamp`, nil},
			{"added_after=2026-01-01", `added_after "2026-01-01" is not`, nil},
			{"added_after=2026-01-01T00:00:00.1234567891Z", "is not an RFC 3339 timestamp", nil},
			{"added_after=2026-01-01T00:00:00Z&added_after=2026-01-02T00:00:00Z", "added_after is given 2 times", nil},
			{"match[version]=all,last", "cannot be combined", []string{"objects", "manifest", "object"}},
			{"match[version]=last&match[version]=first", "match[version] is given 2 times; give it once, its values comma-separated", []string{"objects", "manifest", "object"}},
			{"match[type]=indicator&match[type]=malware", "match[type] is given 2 times", []string{"objects", "manifest"}},
			{"match[id]=a&match[id]=b", "match[id] is given 2 times", []string{"objects", "manifest"}},
			{"match[spec_version]=2.1&match[spec_version]=2.1", "match[spec_version] is given 2 times", nil},
			{"match[version]=latest", `"latest" is not last, first, all or an RFC 3339 timestamp`, []string{"objects", "manifest", "object"}},
			{"match[version]=2026-13-01T00:00:00Z", "is not last, first, all", []string{"objects", "manifest", "object"}},
			{"next=abc", "could not be decoded", nil},
			{"limit=%zz", "query string is malformed", nil},
		}
		for _, c := range cases {
			for name, u := range endpoints {
				if c.only != nil && !slices.Contains(c.only, name) {
					continue
				}
				t.Run(name+"/"+c.query, func(t *testing.T) {
					b.get(t, "reader", u+"?"+c.query).taxiiError(t, 400, c.want)
				})
			}
		}
	})
}

func TestLimitIsCapped(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, Options{DefaultPageSize: 2, MaxPageSize: 3})
		filterData(t, b)
		u := b.root + "/collections/" + feedAllID + "/objects/?match[version]=all"
		for query, want := range map[string]int{"": 2, "&limit=1": 1, "&limit=3": 3, "&limit=4": 3, "&limit=99999999999999999999": 3} {
			env := b.get(t, "reader", u+query).ok(t).envelope(t)
			if len(env.Objects) != want || !env.More || env.Next == "" {
				t.Fatalf("%q: %d objects, more %v; want %d and more", query, len(env.Objects), env.More, want)
			}
		}
	})
}

// An object without created or modified (an SCO) shows its date_added as its
// version; that version, given back in match[version], selects it (spec 3.4.2, 5.3.1).
func TestVersionOfObjectWithoutTimestamps(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, Options{})
		sco := stixObject(stixID("ipv4-addr", 1), "", "")
		b.add(t, sco, stixObject(stixID("indicator", 2), "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"))
		_, _, records := b.get(t, "reader", b.root+"/collections/all-intel/manifest/?match[type]=ipv4-addr").ok(t).manifest(t)
		if len(records) != 1 || records[0].Version != records[0].DateAdded {
			t.Fatalf("manifest %+v: want the version to be the date_added", records)
		}
		url := b.root + "/collections/all-intel/objects/" + sco.ID + "/?match[version]=" + records[0].Version
		if got := b.get(t, "reader", url).ok(t).envelope(t).ids(t); len(got) != 1 || got[0] != sco.ID {
			t.Fatalf("object by its manifest version: %v", got)
		}
		other := b.root + "/collections/all-intel/objects/?match[version]=" + records[0].Version
		if got := b.get(t, "reader", other).ok(t).envelope(t).ids(t); len(got) != 1 || got[0] != sco.ID {
			t.Fatalf("objects by that version: %v, want only the SCO", got)
		}
	})
}

// HEAD answers as GET does, headers included, without a body.
func TestHead(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setup(t, st, Options{})
		b.add(t, stixObject(stixID("indicator", 1), "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"))
		get := b.get(t, "reader", b.root+"/collections/all-intel/objects/").ok(t)
		head := b.do(t, http.MethodHead, "reader", b.root+"/collections/all-intel/objects/")
		if head.status != http.StatusOK || len(head.body) != 0 ||
			head.header.Get("Content-Type") != get.header.Get("Content-Type") ||
			head.header.Get("X-TAXII-Date-Added-Last") != get.header.Get("X-TAXII-Date-Added-Last") || get.header.Get("X-TAXII-Date-Added-Last") == "" {
			t.Fatalf("HEAD %d %v %q; GET headers %v", head.status, head.header, head.body, get.header)
		}
		if r := b.do(t, http.MethodHead, "", b.root+"/collections/"); r.status != http.StatusUnauthorized {
			t.Fatalf("HEAD without a key: %d", r.status)
		}
	})
}
