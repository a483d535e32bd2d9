package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// TLP marking ids used by the fixtures.
const (
	tlp1White       = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	tlp1Green       = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	tlp1Amber       = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	tlp1Red         = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
	tlp2Clear       = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	tlp2AmberStrict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	tlp2Red         = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	customAmber     = "marking-definition--00000000-0000-4000-8000-0000000000a1" // definition.tlp
	customRed       = "marking-definition--00000000-0000-4000-8000-0000000000a2" // TLP 2.0 extension, same batch
	identityA       = "identity--00000000-0000-4000-8000-00000000000a"
	identityB       = "identity--00000000-0000-4000-8000-00000000000b"
)

// stixObject builds one version of a new object of typ with the given properties.
func stixObject(typ string, n int, props map[string]any) store.Object {
	o := map[string]any{"type": typ, "spec_version": "2.1", "id": objectID(typ, n),
		"created": "2021-01-01T00:00:00.000Z", "modified": "2021-01-01T00:00:00.000Z"}
	for k, v := range props {
		o[k] = v
	}
	raw, err := json.Marshal(o)
	if err != nil {
		panic(err)
	}
	return store.Object{ID: objectID(typ, n), Type: typ, SpecVersion: "2.1",
		Created: "2021-01-01T00:00:00.000Z", Modified: "2021-01-01T00:00:00.000Z", Raw: raw}
}

func markings(ids ...string) map[string]any { return map[string]any{"object_marking_refs": ids} }

// filterFixture is a store of objects that each filter tells apart, by name.
func filterFixture(t *testing.T, ctx context.Context, s store.Store) map[string]store.Object {
	t.Helper()
	past := time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	future := time.Now().Add(24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	objs := map[string]store.Object{
		// A custom marking definition stored before the objects that use it.
		"mdAmber": stixObject("marking-definition", 0xa1, map[string]any{"definition_type": "tlp",
			"definition": map[string]any{"tlp": "amber"}}),
	}
	objs["mdAmber"] = withID(objs["mdAmber"], customAmber)
	add(t, ctx, s, objs["mdAmber"])

	batch := []struct {
		name string
		o    store.Object
	}{
		{"mdRed", withID(stixObject("marking-definition", 0xa2, map[string]any{"extensions": map[string]any{
			store.TLPExtension: map[string]any{"extension_type": "property-extension", "tlp_2_0": "red"}}}), customRed)},
		{"white", stixObject("indicator", 1, markings(tlp1White))},
		{"clear", stixObject("indicator", 2, markings(tlp2Clear))},
		{"green", stixObject("indicator", 3, markings(tlp1Green))},
		{"amber", stixObject("malware", 4, markings(tlp1Amber))},
		{"strict", stixObject("indicator", 5, markings(tlp2AmberStrict))},
		{"red", stixObject("indicator", 6, markings(tlp1Red, tlp1Green))}, // highest wins
		{"red2", stixObject("indicator", 7, markings(tlp2Red))},
		{"customAmber", stixObject("indicator", 8, markings(customAmber))},
		{"customRed", stixObject("report", 9, markings(customRed, tlp1White))},
		{"none", stixObject("indicator", 10, map[string]any{"object_marking_refs": []string{"marking-definition--00000000-0000-4000-8000-0000000000ff"}})},
		{"byA", fromSource(stixObject("indicator", 11, map[string]any{"created_by_ref": identityA, "confidence": 90, "labels": []string{"phishing"}}), "alpha")},
		{"viaB", fromSource(stixObject("indicator", 12, map[string]any{"x_inthreat_sources_refs": []string{identityB}, "confidence": 50, "labels": []string{"c2", "botnet"}}), "beta")},
		{"noConf", stixObject("indicator", 13, map[string]any{"created_by_ref": identityB})},
		{"revoked", stixObject("indicator", 14, map[string]any{"revoked": true, "confidence": 100})},
		{"expired", stixObject("indicator", 15, map[string]any{"valid_until": past, "labels": []string{"phishing"}})},
		{"valid", stixObject("indicator", 16, map[string]any{"valid_until": future, "confidence": 0})},
		{"identity", stixObject("identity", 17, map[string]any{"name": "A", "identity_class": "organization"})},
		{"relationship", stixObject("relationship", 18, nil)},
	}
	var list []store.Object
	for _, b := range batch {
		objs[b.name] = b.o
		list = append(list, b.o)
	}
	add(t, ctx, s, list...)
	return objs
}

func fromSource(o store.Object, source string) store.Object {
	o.Source = source
	return o
}

func withID(o store.Object, id string) store.Object {
	var m map[string]any
	_ = json.Unmarshal(o.Raw, &m)
	m["id"] = id
	o.Raw, _ = json.Marshal(m)
	o.ID = id
	return o
}

// feedShows stores a feed with filter f and returns the names of the fixture
// objects its pages show, paging with a small limit.
func feedShows(t *testing.T, ctx context.Context, s store.Store, objs map[string]store.Object, f store.FeedFilter) []string {
	t.Helper()
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", feedSeq.Add(1))
	if err := s.CreateFeed(ctx, store.Feed{ID: id, Title: "f", Filter: f}); err != nil {
		t.Fatalf("CreateFeed: %v", err)
	}
	stored, err := s.GetFeed(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return namesOf(objs, pageAll(t, ctx, s, store.Query{Feed: stored.Filter, Limit: 3}, false))
}

var feedSeq atomic.Int64

func namesOf(objs map[string]store.Object, rows []store.Row) []string {
	byID := map[string]string{}
	for name, o := range objs {
		byID[o.ID] = name
	}
	var out []string
	for _, r := range rows {
		out = append(out, byID[r.ID])
	}
	slices.Sort(out)
	return out
}

func exerciseFeedFilters(t *testing.T, setup setupFunc) {
	s, ctx := setup(t)
	objs := filterFixture(t, ctx, s)
	all := namesOf(objs, pageAll(t, ctx, s, store.Query{Limit: 100}, false))
	except := func(names ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(n string) bool { return slices.Contains(names, n) })
	}
	indicators := []string{"white", "clear", "green", "strict", "red", "red2", "customAmber", "none", "byA", "viaB", "noConf", "revoked", "expired", "valid"}
	slices.Sort(indicators)
	cases := []struct {
		name   string
		filter store.FeedFilter
		want   []string
	}{
		{"no filter", store.FeedFilter{}, all},
		{"types", store.FeedFilter{Types: []string{"malware", "report"}}, []string{"amber", "customRed"}},
		{"exclude types", store.FeedFilter{ExcludeTypes: []string{"indicator", "marking-definition"}},
			[]string{"amber", "customRed", "identity", "relationship"}},
		{"tlp clear is white", store.FeedFilter{TLP: []store.TLP{store.TLPClear}}, []string{"clear", "white"}},
		{"tlp green: red wins over green", store.FeedFilter{TLP: []store.TLP{store.TLPGreen}}, []string{"green"}},
		{"tlp amber, custom definition.tlp", store.FeedFilter{TLP: []store.TLP{store.TLPAmber}}, []string{"amber", "customAmber"}},
		{"tlp amber+strict", store.FeedFilter{TLP: []store.TLP{store.TLPAmberStrict}}, []string{"strict"}},
		{"tlp red, custom TLP 2.0 extension in the same batch", store.FeedFilter{TLP: []store.TLP{store.TLPRed}}, []string{"customRed", "red", "red2"}},
		{"tlp none", store.FeedFilter{TLP: []store.TLP{store.TLPNone}},
			except("white", "clear", "green", "amber", "strict", "red", "red2", "customAmber", "customRed")},
		{"sources", store.FeedFilter{Sources: []string{"alpha"}}, []string{"byA"}},
		{"sources, any", store.FeedFilter{Sources: []string{"beta", "alpha", "nobody"}}, []string{"byA", "viaB"}},
		{"sources and labels", store.FeedFilter{Sources: []string{"alpha", "beta"}, Labels: []string{"botnet"}}, []string{"viaB"}},
		{"created by, also x_inthreat_sources_refs", store.FeedFilter{CreatedBy: []string{identityB}}, []string{"noConf", "viaB"}},
		{"min confidence leaves out objects without confidence", store.FeedFilter{MinConfidence: 50}, []string{"byA", "revoked", "viaB"}},
		{"labels, any", store.FeedFilter{Labels: []string{"phishing", "botnet"}}, []string{"byA", "expired", "viaB"}},
		{"exclude revoked", store.FeedFilter{ExcludeRevoked: true}, except("revoked")},
		{"exclude expired", store.FeedFilter{ExcludeExpired: true}, except("expired")},
		{"with context adds identities and markings", store.FeedFilter{Types: []string{"malware"}, WithContext: true},
			[]string{"amber", "identity", "mdAmber", "mdRed"}},
		{"with context on an indexed filter", store.FeedFilter{TLP: []store.TLP{store.TLPAmberStrict}, WithContext: true},
			[]string{"identity", "mdAmber", "mdRed", "strict"}},
		{"all ANDed", store.FeedFilter{Types: []string{"indicator"}, TLP: []store.TLP{store.TLPNone}, MinConfidence: 1,
			ExcludeRevoked: true, ExcludeExpired: true}, []string{"byA", "viaB"}},
		{"types and labels and created by", store.FeedFilter{Types: []string{"indicator"}, Labels: []string{"phishing", "c2"},
			CreatedBy: []string{identityA, identityB}}, []string{"byA", "viaB"}},
		{"exclude types and revoked", store.FeedFilter{ExcludeTypes: []string{"marking-definition", "identity", "relationship", "malware", "report"},
			ExcludeRevoked: true, ExcludeExpired: true}, slices.DeleteFunc(slices.Clone(indicators), func(n string) bool { return n == "revoked" || n == "expired" })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := slices.Clone(c.want)
			slices.Sort(want)
			if got := feedShows(t, ctx, s, objs, c.filter); !slices.Equal(got, want) {
				t.Errorf("feed shows %v, want %v", got, want)
			}
			// The count of a filter not saved as a feed agrees with what the feed shows, up to its cap.
			if n, err := s.CountFilter(ctx, c.filter, 1000); err != nil || n != int64(len(want)) {
				t.Errorf("CountFilter = %d, %v; want %d", n, err, len(want))
			}
			if n, err := s.CountFilter(ctx, c.filter, 2); err != nil || n != int64(min(2, len(want))) {
				t.Errorf("CountFilter capped at 2 = %d, %v; want %d", n, err, min(2, len(want)))
			}
		})
	}

	t.Run("objects added later enter indexed feeds", func(t *testing.T) {
		id := "00000000-0000-4000-8000-00000000f00d"
		if err := s.CreateFeed(ctx, store.Feed{ID: id, Title: "red", Filter: store.FeedFilter{TLP: []store.TLP{store.TLPRed}}}); err != nil {
			t.Fatal(err)
		}
		late := stixObject("indicator", 100, markings(customRed))
		other := stixObject("indicator", 101, markings(tlp1Green))
		add(t, ctx, s, late, other)
		objs := map[string]store.Object{"customRed": objs["customRed"], "red": objs["red"], "red2": objs["red2"], "late": late, "other": other}
		f, _ := s.GetFeed(ctx, id)
		got := namesOf(objs, pageAll(t, ctx, s, store.Query{Feed: f.Filter, Limit: 2}, true))
		if want := []string{"customRed", "late", "red", "red2"}; !slices.Equal(got, want) {
			t.Errorf("feed shows %v, want %v", got, want)
		}
	})

	t.Run("UpdateFeed keeps the id and changes what pages show", func(t *testing.T) {
		id := "00000000-0000-4000-8000-00000000beef"
		if err := s.CreateFeed(ctx, store.Feed{ID: id, Title: "amber", Alias: "amb", Filter: store.FeedFilter{TLP: []store.TLP{store.TLPAmber}}}); err != nil {
			t.Fatal(err)
		}
		f, _ := s.GetFeed(ctx, id)
		if got := namesOf(objs, pageAll(t, ctx, s, store.Query{Feed: f.Filter, Limit: 10}, false)); !slices.Equal(got, []string{"amber", "customAmber"}) {
			t.Fatalf("before update: %v", got)
		}
		f.Title = "labels"
		f.Filter = store.FeedFilter{Labels: []string{"c2"}}
		if err := s.UpdateFeed(ctx, f); err != nil {
			t.Fatalf("UpdateFeed: %v", err)
		}
		g, err := s.GetFeed(ctx, "amb")
		if err != nil || g.ID != id || g.Title != "labels" || !slices.Equal(g.Filter.Labels, []string{"c2"}) || g.Filter.TLP != nil {
			t.Fatalf("after update GetFeed = %+v, %v", g, err)
		}
		if got := namesOf(objs, pageAll(t, ctx, s, store.Query{Feed: g.Filter, Limit: 10}, false)); !slices.Equal(got, []string{"viaB"}) {
			t.Errorf("after update: %v", got)
		}
		// Back to a filter that is not indexed: types only.
		g.Filter = store.FeedFilter{Types: []string{"relationship"}}
		if err := s.UpdateFeed(ctx, g); err != nil {
			t.Fatal(err)
		}
		g, _ = s.GetFeed(ctx, id)
		if got := namesOf(objs, pageAll(t, ctx, s, store.Query{Feed: g.Filter, Limit: 10}, false)); !slices.Equal(got, []string{"relationship"}) {
			t.Errorf("after second update: %v", got)
		}
		if err := s.UpdateFeed(ctx, store.Feed{ID: "00000000-0000-4000-8000-00000000dead", Title: "x"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateFeed of a missing feed = %v, want ErrNotFound", err)
		}
	})

	t.Run("FeedStats counts latest versions and finds the newest", func(t *testing.T) {
		id := "00000000-0000-4000-8000-00000000cafe"
		if err := s.CreateFeed(ctx, store.Feed{ID: id, Title: "c2", Filter: store.FeedFilter{Labels: []string{"c2", "phishing"}}}); err != nil {
			t.Fatal(err)
		}
		f, _ := s.GetFeed(ctx, id)
		rows := pageAll(t, ctx, s, store.Query{Feed: f.Filter, Limit: 100}, false)
		n, newest, err := s.FeedStats(ctx, f.Filter)
		if err != nil || n != int64(len(rows)) || newest != rows[len(rows)-1].DateAdded {
			t.Errorf("FeedStats = %d, %d, %v; want %d, %d", n, newest, err, len(rows), rows[len(rows)-1].DateAdded)
		}
		if n, newest, err := s.FeedStats(ctx, store.FeedFilter{Types: []string{"campaign"}}); err != nil || n != 0 || newest != 0 {
			t.Errorf("FeedStats of an empty feed = %d, %d, %v", n, newest, err)
		}
	})

	t.Run("ObjectTypes", func(t *testing.T) {
		got, err := s.ObjectTypes(ctx)
		want := []string{"identity", "indicator", "malware", "marking-definition", "relationship", "report"}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ObjectTypes = %v, %v; want %v", got, err, want)
		}
	})

	t.Run("an indexed filter without a stored feed is refused", func(t *testing.T) {
		err := s.ScanObjects(ctx, store.Query{Feed: store.FeedFilter{TLP: []store.TLP{store.TLPRed}}, Limit: 1},
			func(store.Page) error { return nil }, func(store.Row) error { return nil })
		if !errors.Is(err, store.ErrNeedsIndex) {
			t.Errorf("ScanObjects = %v, want ErrNeedsIndex", err)
		}
	})

	t.Run("DeleteObject only deletes what the feed shows", func(t *testing.T) {
		id := "00000000-0000-4000-8000-00000000d00d"
		if err := s.CreateFeed(ctx, store.Feed{ID: id, Title: "d", Filter: store.FeedFilter{TLP: []store.TLP{store.TLPAmberStrict}}}); err != nil {
			t.Fatal(err)
		}
		f, _ := s.GetFeed(ctx, id)
		if _, err := s.DeleteObject(ctx, f.Filter, objs["green"].ID, store.VersionMatch{All: true}, nil, ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleting an object the feed does not show = %v, want ErrNotFound", err)
		}
		if n, err := s.DeleteObject(ctx, f.Filter, objs["strict"].ID, store.VersionMatch{All: true}, nil, ""); err != nil || n != 1 {
			t.Errorf("deleting an object the feed shows = %d, %v", n, err)
		}
		if got := pageAll(t, ctx, s, store.Query{Feed: f.Filter, Limit: 10}, false); len(got) != 0 {
			t.Errorf("after delete the feed shows %v", refs(got))
		}
	})

	// An indexed feed shows, by default, the versions it holds that are the
	// latest of their object now: a new version, matching or not, hides the one
	// before, and deleting it brings that one back. The stores read this from
	// the membership index, so it must follow every change of the latest flag.
	t.Run("versions in an indexed feed", func(t *testing.T) {
		id := "00000000-0000-4000-8000-00000000ab1e"
		filter := store.FeedFilter{Labels: []string{"versioned"}, ExcludeExpired: true}
		if err := s.CreateFeed(ctx, store.Feed{ID: id, Title: "v", Filter: filter}); err != nil {
			t.Fatal(err)
		}
		f, _ := s.GetFeed(ctx, id)
		at := func(n int, modified, label, validUntil string) store.Object {
			o := stixObject("indicator", n, map[string]any{"modified": modified, "labels": []string{label}, "valid_until": validUntil})
			o.Modified = modified
			return o
		}
		const future, past = "2099-01-01T00:00:00Z", "2020-06-01T00:00:00Z"
		v1 := at(300, "2021-01-01T00:00:00.000Z", "versioned", future)
		v2 := at(300, "2022-01-01T00:00:00.000Z", "versioned", future)
		v3 := at(300, "2023-01-01T00:00:00.000Z", "other", future)
		expired := at(301, "2021-01-01T00:00:00.000Z", "versioned", past)
		only := at(302, "2021-06-01T00:00:00.000Z", "versioned", future)
		show := func(q store.Query) []ref {
			q.Feed, q.Limit = f.Filter, 1
			return refs(pageAll(t, ctx, s, q, false))
		}
		check := func(when string, q store.Query, want ...store.Object) {
			t.Helper()
			if got := show(q); !slices.Equal(got, refsTo(want...)) {
				t.Errorf("%s, %+v: feed shows %v, want %v", when, q.Versions, got, refsTo(want...))
			}
		}
		add(t, ctx, s, v1, expired, only)
		check("first version", store.Query{}, v1, only)
		add(t, ctx, s, v2)
		check("matching new version", store.Query{}, only, v2)
		check("matching new version", store.Query{Versions: store.VersionMatch{First: true}}, v1, only)
		check("matching new version", store.Query{Versions: store.VersionMatch{All: true}}, v1, only, v2)
		key1, err := store.VersionKey(v1.Modified)
		if err != nil {
			t.Fatal(err)
		}
		check("matching new version", store.Query{Versions: store.VersionMatch{Times: []string{key1}}}, v1)
		check("matching new version", store.Query{Types: []string{"indicator"}, Versions: store.VersionMatch{Last: true, First: true}}, v1, only, v2)
		add(t, ctx, s, v3)
		check("new version that does not match", store.Query{}, only)
		check("new version that does not match", store.Query{Versions: store.VersionMatch{All: true}}, v1, only, v2)
		if n, err := s.DeleteObject(ctx, store.FeedFilter{}, v3.ID, store.VersionMatch{Last: true}, nil, ""); err != nil || n != 1 {
			t.Fatalf("delete the latest version = %d, %v", n, err)
		}
		check("latest version deleted", store.Query{}, only, v2)
		if n, err := s.DeleteObject(ctx, store.FeedFilter{}, v1.ID, store.VersionMatch{First: true}, nil, ""); err != nil || n != 1 {
			t.Fatalf("delete the first version = %d, %v", n, err)
		}
		check("first version deleted", store.Query{Versions: store.VersionMatch{First: true}}, only, v2)
		if _, err := s.DeleteObject(ctx, store.FeedFilter{}, only.ID, store.VersionMatch{All: true}, nil, ""); err != nil {
			t.Fatal(err)
		}
		check("object deleted", store.Query{Versions: store.VersionMatch{All: true}}, v2)
		// A version older than every stored one arrives: the one that was first is not any more.
		v0 := at(300, "2020-01-01T00:00:00.000Z", "versioned", future)
		add(t, ctx, s, v0)
		check("older version", store.Query{Versions: store.VersionMatch{First: true}}, v0)
		check("older version", store.Query{}, v2)
	})

	t.Run("DeleteFeed", func(t *testing.T) {
		if err := s.DeleteFeed(ctx, "00000000-0000-4000-8000-00000000f00d"); err != nil {
			t.Fatal(err)
		}
		add(t, ctx, s, stixObject("indicator", 200, markings(tlp1Red)))
	})
}

// exerciseFilteredConcurrency: pollers of an indexed feed, by next and by
// added_after, miss nothing and repeat nothing while writers add objects that
// match and objects that do not, and while the feed's filter changes (first to
// a filter that also matches every object the writers mark red, then back).
func exerciseFilteredConcurrency(t *testing.T, setup setupFunc) {
	s, ctx := setup(t)
	const (
		writers   = 3
		callsEach = 25
		pollers   = 4
		feedID    = "00000000-0000-4000-8000-0000000000fe"
	)
	red := store.FeedFilter{TLP: []store.TLP{store.TLPRed}}
	redOrAmber := store.FeedFilter{TLP: []store.TLP{store.TLPRed, store.TLPAmber}}
	if err := s.CreateFeed(ctx, store.Feed{ID: feedID, Title: "red", Filter: red}); err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		written = make(chan struct{})
		errs    = make(chan error, writers+pollers+1)
		redIDs  sync.Map
		green   sync.Map // never in the feed, under any of its filters
	)
	for w := range writers {
		wg.Go(func() {
			for c := range callsEach {
				batch := make([]store.Object, 1+(w+c)%5)
				for i := range batch {
					n := w*1_000_000 + c*100 + i
					m := tlp1Green
					if n%3 == 0 {
						m = tlp1Red
						redIDs.Store(objectID("indicator", n), true)
					} else if n%3 == 1 {
						m = tlp1Amber
					} else {
						green.Store(objectID("indicator", n), true)
					}
					batch[i] = stixObject("indicator", n, markings(m))
				}
				if _, err := s.AddObjects(ctx, batch); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		})
	}
	// The filter changes while pollers poll: red, red or amber, red again.
	wg.Go(func() {
		for i, f := range []store.FeedFilter{redOrAmber, red, redOrAmber, red} {
			time.Sleep(time.Duration(5+i) * time.Millisecond)
			if err := s.UpdateFeed(ctx, store.Feed{ID: feedID, Title: "red", Filter: f}); err != nil {
				errs <- fmt.Errorf("update: %w", err)
				return
			}
		}
	})

	seen := make([]map[string]int, pollers)
	var pwg sync.WaitGroup
	for p := range pollers {
		seen[p] = map[string]int{}
		pwg.Go(func() {
			byAddedAfter := p%2 == 1
			var after int64
			finished := false
			for {
				select {
				case <-written:
					finished = true
				default:
				}
				// Each page reads the feed as stored now, as the server does.
				f, err := s.GetFeed(ctx, feedID)
				if err != nil {
					errs <- err
					return
				}
				q := store.Query{Feed: f.Filter, Limit: 5}
				if byAddedAfter {
					q.AddedAfter = after
				} else {
					q.After = after
				}
				page, err := poll(ctx, s, q, seen[p], after)
				if err != nil {
					errs <- fmt.Errorf("poller %d: %w", p, err)
					return
				}
				if page.Count > 0 {
					after = page.Last
				}
				if finished && !page.More {
					return
				}
			}
		})
	}
	wg.Wait()
	close(written)
	pwg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for p, ids := range seen {
		missed := 0
		redIDs.Range(func(k, _ any) bool {
			if ids[k.(string)] == 0 {
				missed++
			}
			return true
		})
		// Amber objects may show while the filter includes amber; green ones never.
		repeated, wrong := 0, 0
		for id, n := range ids {
			if n > 1 {
				repeated++
			}
			if _, isGreen := green.Load(id); isGreen {
				wrong++
			}
		}
		if missed > 0 || repeated > 0 || wrong > 0 {
			t.Errorf("poller %d: missed %d red objects, repeated %d, showed %d green ones", p, missed, repeated, wrong)
		}
	}
}
