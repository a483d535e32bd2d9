package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

var all = store.VersionMatch{All: true}

func exerciseAddObjects(t *testing.T, setup setupFunc) {
	t.Run("NewVersionsGetIncreasingDateAddedInInputOrder", func(t *testing.T) {
		s, ctx := setup(t)
		before := time.Now()
		out := add(t, ctx, s,
			object(objectID("indicator", 1), "2021-01-01T00:00:00Z", ""),
			object(objectID("malware", 2), "2021-01-01T00:00:00Z", ""),
			object(objectID("indicator", 3), "2021-01-01T00:00:00Z", ""))
		for i, o := range out {
			if !o.Added {
				t.Errorf("outcome %d: Added = false, want true", i)
			}
			if i > 0 && o.DateAdded <= out[i-1].DateAdded {
				t.Errorf("outcome %d: DateAdded %d <= previous %d", i, o.DateAdded, out[i-1].DateAdded)
			}
		}
		// date_added is a wall-clock time in µs, not a counter.
		lo, hi := before.Add(-time.Minute).UnixMicro(), time.Now().Add(time.Minute).UnixMicro()
		if out[0].DateAdded < lo || out[0].DateAdded > hi {
			t.Errorf("DateAdded %s is not about now (%s)", store.FormatDateAdded(out[0].DateAdded), before.UTC())
		}
	})

	t.Run("LaterCallsGetLaterDateAdded", func(t *testing.T) {
		s, ctx := setup(t)
		var last int64
		for i := range 20 {
			out := add(t, ctx, s, object(objectID("indicator", i), "2021-01-01T00:00:00Z", ""))
			if out[0].DateAdded <= last {
				t.Fatalf("call %d: DateAdded %d <= previous %d", i, out[0].DateAdded, last)
			}
			last = out[0].DateAdded
		}
	})

	t.Run("ReAddingAVersionChangesNothing", func(t *testing.T) {
		s, ctx := setup(t)
		first := version(objectID("indicator", 1), "2021-01-01T00:00:00.000Z")
		out1 := add(t, ctx, s, first)

		again := first
		again.Raw = []byte(`{"type":"indicator","different":"bytes"}`)
		out2 := add(t, ctx, s, again)
		if out2[0].Added || !out2[0].Conflict || out2[0].DateAdded != out1[0].DateAdded {
			t.Fatalf("re-add outcome = %+v, want {Added:false Conflict:true DateAdded:%d}", out2[0], out1[0].DateAdded)
		}
		_, rows := scan(t, ctx, s, store.Query{Versions: all, Limit: 10})
		if len(rows) != 1 || !bytes.Equal(rows[0].Raw, first.Raw) || rows[0].DateAdded != out1[0].DateAdded {
			t.Fatalf("after re-add the store holds %d rows, first %+v; want the original only", len(rows), rows)
		}
		// The clock did not move for it: the next new version is still the next one.
		out3 := add(t, ctx, s, version(objectID("indicator", 2), "2021-01-01T00:00:00.000Z"))
		if !out3[0].Added || out3[0].DateAdded <= out1[0].DateAdded {
			t.Fatalf("next add = %+v", out3[0])
		}
	})

	t.Run("VersionIdentityIsTheInstantNotTheString", func(t *testing.T) {
		s, ctx := setup(t)
		id := objectID("indicator", 1)
		out := add(t, ctx, s,
			version(id, "2021-06-01T12:00:00Z"),
			version(id, "2021-06-01T12:00:00.000Z"),
			version(id, "2021-06-01T12:00:00.000000000Z"),
			version(id, "2021-06-01T12:00:00.001Z"))
		want := []bool{true, false, false, true}
		for i, o := range out {
			if o.Added != want[i] {
				t.Errorf("outcome %d: Added = %v, want %v", i, o.Added, want[i])
			}
		}
		if out[1].DateAdded != out[0].DateAdded || out[2].DateAdded != out[0].DateAdded {
			t.Errorf("duplicates report DateAdded %d, %d; want the stored %d", out[1].DateAdded, out[2].DateAdded, out[0].DateAdded)
		}
		_, rows := scan(t, ctx, s, store.Query{Versions: all, Limit: 10})
		// The first string received is the one kept and shown.
		if got, want := refs(rows), []ref{ref(id + "@2021-06-01T12:00:00Z"), ref(id + "@2021-06-01T12:00:00.001Z")}; !slices.Equal(got, want) {
			t.Fatalf("stored %v, want %v", got, want)
		}
	})

	t.Run("VersionIsModifiedElseCreated", func(t *testing.T) {
		s, ctx := setup(t)
		id := objectID("identity", 1)
		out := add(t, ctx, s,
			object(id, "2021-01-01T00:00:00Z", ""),
			object(id, "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"), // same version: modified = first's created
			object(id, "2021-01-01T00:00:00Z", "2022-01-01T00:00:00Z"))
		if !out[0].Added || out[1].Added || !out[2].Added {
			t.Fatalf("outcomes = %+v, want added, not added, added", out)
		}
	})

	t.Run("ObjectsWithoutTimestampsHaveOneVersion", func(t *testing.T) {
		s, ctx := setup(t)
		id := objectID("ipv4-addr", 1)
		sco := store.Object{ID: id, Type: "ipv4-addr", SpecVersion: "2.1", Raw: []byte(`{"type":"ipv4-addr","id":"` + id + `","value":"10.0.0.1"}`)}
		out := add(t, ctx, s, sco, sco)
		if !out[0].Added || out[1].Added {
			t.Fatalf("outcomes = %+v, want added then not added", out)
		}
		_, rows := scan(t, ctx, s, store.Query{Limit: 10})
		if len(rows) != 1 || rows[0].Version != "" || !bytes.Equal(rows[0].Raw, sco.Raw) {
			t.Fatalf("rows = %+v, want the one version with Version \"\"", rows)
		}
		// Its version is shown as its date_added, and selecting that version finds it;
		// objects with timestamps are never selected by a date_added.
		dated := version(objectID("indicator", 2), "2021-01-01T00:00:00Z")
		datedAt := add(t, ctx, s, dated)[0].DateAdded
		_, rows = scan(t, ctx, s, store.Query{Limit: 10, Versions: store.VersionMatch{DateAdded: []int64{out[0].DateAdded, datedAt}}})
		if len(rows) != 1 || rows[0].ID != id {
			t.Fatalf("by date_added: rows = %+v, want only %s", rows, id)
		}
		_, rows = scan(t, ctx, s, store.Query{Limit: 10, Versions: store.VersionMatch{DateAdded: []int64{out[0].DateAdded + 1}}})
		if len(rows) != 0 {
			t.Fatalf("by another date_added: rows = %+v, want none", rows)
		}
	})

	t.Run("SameVersionTwiceInOneCall", func(t *testing.T) {
		s, ctx := setup(t)
		o := version(objectID("indicator", 1), "2021-01-01T00:00:00Z")
		out := add(t, ctx, s, o, o)
		if !out[0].Added || out[1].Added || out[1].DateAdded != out[0].DateAdded {
			t.Fatalf("outcomes = %+v, want added, then not added with the same DateAdded", out)
		}
	})

	t.Run("RowsCarryTheStoredFieldsAndExactBytes", func(t *testing.T) {
		s, ctx := setup(t)
		withModified := object(objectID("indicator", 1), "2020-01-01T00:00:00Z", "2021-02-03T04:05:06.789Z")
		createdOnly := object(objectID("marking-definition", 2), "2017-01-20T00:00:00.000Z", "")
		big := object(objectID("report", 3), "2021-01-01T00:00:00Z", "")
		big.Raw = append(bytes.Clone(big.Raw[:len(big.Raw)-1]), []byte(`,"description":"`+string(bytes.Repeat([]byte("long text "), 20_000))+`"}`)...)
		out := add(t, ctx, s, withModified, createdOnly, big)

		_, rows := scan(t, ctx, s, store.Query{Limit: 10})
		if len(rows) != 3 {
			t.Fatalf("got %d rows, want 3", len(rows))
		}
		for i, o := range []store.Object{withModified, createdOnly, big} {
			r := rows[i]
			if r.ID != o.ID || r.Type != o.Type || r.SpecVersion != "2.1" || r.DateAdded != out[i].DateAdded {
				t.Errorf("row %d = {%s %s %s %d}, want {%s %s 2.1 %d}", i, r.ID, r.Type, r.SpecVersion, r.DateAdded, o.ID, o.Type, out[i].DateAdded)
			}
			if want := store.ObjectVersion(o.Created, o.Modified); r.Version != want {
				t.Errorf("row %d: Version = %q, want the exact string %q", i, r.Version, want)
			}
			if !bytes.Equal(r.Raw, o.Raw) {
				t.Errorf("row %d: raw bytes differ from what was added (%d vs %d bytes)", i, len(r.Raw), len(o.Raw))
			}
		}
	})

	t.Run("ACallIsAllOrNothing", func(t *testing.T) {
		s, ctx := setup(t)
		kept := add(t, ctx, s, version(objectID("indicator", 0), "2021-01-01T00:00:00Z"))

		// A version the store cannot order is refused alone (Sources/OneRefusalDoesNotFailTheCall);
		// an error of the database fails the whole call.
		noRaw := version(objectID("indicator", 3), "2021-01-01T00:00:00Z")
		noRaw.Raw = nil                 // NOT NULL: fails inside the transaction, after the first insert
		noRaw.Digest = make([]byte, 32) // given, so the store does not refuse the raw before the insert
		for name, bad := range map[string]store.Object{"NilRaw": noRaw} {
			t.Run(name, func(t *testing.T) {
				_, err := s.AddObjects(ctx, []store.Object{
					version(objectID("indicator", 1), "2021-01-01T00:00:00Z"),
					bad,
					version(objectID("indicator", 4), "2021-01-01T00:00:00Z"),
				})
				if err == nil {
					t.Fatal("AddObjects accepted a bad object")
				}
				_, rows := scan(t, ctx, s, store.Query{Versions: all, Limit: 10})
				if got, want := len(rows), 1; got != want || rows[0].DateAdded != kept[0].DateAdded {
					t.Fatalf("after a failed call the store holds %v, want only the earlier object", refs(rows))
				}
			})
		}
		// The store still works and date_added still increases.
		out := add(t, ctx, s, version(objectID("indicator", 1), "2021-01-01T00:00:00Z"))
		if !out[0].Added || out[0].DateAdded <= kept[0].DateAdded {
			t.Fatalf("add after failures = %+v", out[0])
		}
	})

	// A request stored in batches (Add Objects bounds its memory so) is one
	// call: one transaction, and each batch sees the versions and sources of
	// the batches before it.
	t.Run("BatchesAreOneCall", func(t *testing.T) {
		s, ctx := setup(t)
		x, y := objectID("indicator", 1), objectID("indicator", 2)
		from := func(o store.Object, source string) store.Object {
			o.Source, o.Confined = source, true
			return o
		}
		v1, v2 := "2021-01-01T00:00:00.000Z", "2022-01-01T00:00:00.000Z"
		batches := func(bs ...[]store.Object) func() ([]store.Object, error) {
			return func() ([]store.Object, error) {
				if len(bs) == 0 {
					return nil, nil
				}
				b := bs[0]
				bs = bs[1:]
				return b, nil
			}
		}
		out, err := s.AddObjectBatches(ctx, batches(
			[]store.Object{from(version(x, v1), "a"), from(version(y, v1), "a")},
			[]store.Object{from(version(x, v1), "a"), from(version(x, v2), "a"), from(version(y, v2), "b")}))
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 5 {
			t.Fatalf("%d outcomes for 5 objects", len(out))
		}
		if !out[0].Added || !out[1].Added || !out[3].Added || out[1].DateAdded <= out[0].DateAdded || out[3].DateAdded <= out[1].DateAdded {
			t.Fatalf("new versions: %+v, want added with increasing date_added across batches", out)
		}
		if out[2].Added || out[2].Refused != nil || out[2].DateAdded != out[0].DateAdded {
			t.Fatalf("a version of an earlier batch again: %+v, want unchanged with its date_added %d", out[2], out[0].DateAdded)
		}
		if !errors.Is(out[4].Refused, store.ErrOtherSource) {
			t.Fatalf("an object of another source, stored by an earlier batch: %+v, want ErrOtherSource", out[4])
		}
		// The version of the second batch is now the latest of x.
		if _, rows := scan(t, ctx, s, store.Query{IDs: []string{x}, Limit: 10}); len(rows) != 1 || rows[0].DateAdded != out[3].DateAdded {
			t.Fatalf("latest of x: %v, want the second batch's version", refs(rows))
		}

		// An error of next after a stored batch rolls everything back, and comes back as is.
		stop := errors.New("the body broke off")
		calls := 0
		_, err = s.AddObjectBatches(ctx, func() ([]store.Object, error) {
			if calls++; calls == 1 {
				return []store.Object{version(objectID("malware", 3), v1)}, nil
			}
			return nil, stop
		})
		if !errors.Is(err, stop) {
			t.Fatalf("error %v, want next's error", err)
		}
		if _, rows := scan(t, ctx, s, store.Query{Versions: all, Limit: 10}); len(rows) != 3 {
			t.Fatalf("after a failed call the store holds %v, want the 3 versions of the first call", refs(rows))
		}
		// The clock moved on with the first call only: the next version is later still.
		if next := add(t, ctx, s, version(objectID("malware", 3), v1)); !next[0].Added || next[0].DateAdded <= out[3].DateAdded {
			t.Fatalf("add after the batches: %+v", next[0])
		}
	})

	t.Run("ManyObjectsInOneCallEachGetTheirOwnDateAdded", func(t *testing.T) {
		s, ctx := setup(t)
		const n = 10_000
		objs := make([]store.Object, n)
		for i := range objs {
			objs[i] = object(objectID("indicator", i), "2021-01-01T00:00:00Z", "")
		}
		out := add(t, ctx, s, objs...)
		for i, o := range out {
			if !o.Added {
				t.Fatalf("outcome %d not added", i)
			}
			if i > 0 && o.DateAdded <= out[i-1].DateAdded {
				t.Fatalf("outcome %d: DateAdded %d <= previous %d", i, o.DateAdded, out[i-1].DateAdded)
			}
		}
		// One more call: after the whole batch, even though the batch ran ahead of the wall clock.
		next := add(t, ctx, s, object(objectID("malware", 1), "2021-01-01T00:00:00Z", ""))
		if next[0].DateAdded <= out[n-1].DateAdded {
			t.Fatalf("next call got DateAdded %d <= last of the batch %d", next[0].DateAdded, out[n-1].DateAdded)
		}
	})
}

func exerciseScanObjects(t *testing.T, setup setupFunc) {
	// One dataset for every filter. Versions are added out of order on purpose.
	var (
		ind1   = objectID("indicator", 1)
		mal2   = objectID("malware", 2)
		idn3   = objectID("identity", 3)
		ipv4   = objectID("ipv4-addr", 4)
		ind1v2 = version(ind1, "2021-02-01T00:00:00Z")
		ind1v1 = version(ind1, "2021-01-01T00:00:00Z")
		ind1v3 = version(ind1, "2021-03-01T00:00:00Z")
		mal2v1 = version(mal2, "2021-01-15T00:00:00Z")
		idn3v1 = version(idn3, "2021-01-01T00:00:00Z")
		idn3v2 = version(idn3, "2021-02-01T00:00:00.5Z")
		ipv4v  = store.Object{ID: ipv4, Type: "ipv4-addr", SpecVersion: "2.1", Raw: []byte(`{"type":"ipv4-addr","id":"` + ipv4 + `","value":"10.0.0.1"}`)}
	)
	// Added order, hence date_added order: ind1v2, mal2v1, idn3v1, ind1v1, ipv4v, idn3v2, ind1v3.
	setupData := func(t *testing.T) (store.Store, []store.AddOutcome) {
		s, ctx := setup(t)
		var out []store.AddOutcome
		for _, o := range []store.Object{ind1v2, mal2v1, idn3v1, ind1v1, ipv4v, idn3v2, ind1v3} {
			out = append(out, add(t, ctx, s, o)...)
		}
		return s, out
	}

	t.Run("Filters", func(t *testing.T) {
		s, out := setupData(t)
		tests := []struct {
			name string
			q    store.Query
			want []ref
		}{
			{"ZeroVersionMatchIsLast", store.Query{}, refsTo(mal2v1, ipv4v, idn3v2, ind1v3)},
			{"VersionLast", store.Query{Versions: store.VersionMatch{Last: true}}, refsTo(mal2v1, ipv4v, idn3v2, ind1v3)},
			{"VersionFirst", store.Query{Versions: store.VersionMatch{First: true}}, refsTo(mal2v1, idn3v1, ind1v1, ipv4v)},
			{"VersionAll", store.Query{Versions: all}, refsTo(ind1v2, mal2v1, idn3v1, ind1v1, ipv4v, idn3v2, ind1v3)},
			{"VersionFirstAndLast", store.Query{Versions: store.VersionMatch{First: true, Last: true}},
				refsTo(mal2v1, idn3v1, ind1v1, ipv4v, idn3v2, ind1v3)},
			{"VersionTime", store.Query{Versions: store.VersionMatch{Times: []string{versionKey(t, "2021-02-01T00:00:00.000Z")}}},
				refsTo(ind1v2)},
			{"VersionTimeWithFraction", store.Query{Versions: store.VersionMatch{Times: []string{versionKey(t, "2021-02-01T00:00:00.500Z")}}},
				refsTo(idn3v2)},
			{"VersionTimes", store.Query{Versions: store.VersionMatch{Times: []string{versionKey(t, "2021-02-01T00:00:00Z"), versionKey(t, "2021-01-15T00:00:00Z")}}},
				refsTo(ind1v2, mal2v1)},
			{"VersionTimeAndFirst", store.Query{Versions: store.VersionMatch{First: true, Times: []string{versionKey(t, "2021-03-01T00:00:00Z")}}},
				refsTo(mal2v1, idn3v1, ind1v1, ipv4v, ind1v3)},
			{"VersionTimeAndLast", store.Query{Versions: store.VersionMatch{Last: true, Times: []string{versionKey(t, "2021-01-01T00:00:00Z")}}},
				refsTo(mal2v1, idn3v1, ind1v1, ipv4v, idn3v2, ind1v3)},
			{"VersionTimeMatchingNothing", store.Query{Versions: store.VersionMatch{Times: []string{versionKey(t, "1999-01-01T00:00:00Z")}}}, nil},
			{"MatchType", store.Query{Types: []string{"indicator"}, Versions: all}, refsTo(ind1v2, ind1v1, ind1v3)},
			{"MatchTypesAreOred", store.Query{Types: []string{"malware", "ipv4-addr"}}, refsTo(mal2v1, ipv4v)},
			{"MatchTypeListedTwice", store.Query{Types: []string{"malware", "malware"}, Versions: all}, refsTo(mal2v1)},
			{"MatchTypeUnknown", store.Query{Types: []string{"campaign"}}, nil},
			{"FeedTypes", store.Query{Feed: store.FeedFilter{Types: []string{"identity", "malware"}}}, refsTo(mal2v1, idn3v2)},
			{"FeedTypesAndMatchTypeAreAnded", store.Query{Feed: store.FeedFilter{Types: []string{"identity"}}, Types: []string{"malware"}}, nil},
			{"FeedTypesAndMatchTypeOverlap", store.Query{Feed: store.FeedFilter{Types: []string{"identity", "malware"}}, Types: []string{"malware", "indicator"}},
				refsTo(mal2v1)},
			{"MatchID", store.Query{IDs: []string{ind1}, Versions: all}, refsTo(ind1v2, ind1v1, ind1v3)},
			{"MatchIDsAreOred", store.Query{IDs: []string{ind1, ipv4}}, refsTo(ipv4v, ind1v3)},
			{"MatchIDAndType", store.Query{IDs: []string{ind1}, Types: []string{"malware"}}, nil},
			{"MatchIDUnknown", store.Query{IDs: []string{objectID("indicator", 99)}}, nil},
			{"SpecVersionEmptyIsEveryStoredVersion", store.Query{Versions: all}, refsTo(ind1v2, mal2v1, idn3v1, ind1v1, ipv4v, idn3v2, ind1v3)},
			{"SpecVersion21", store.Query{SpecVersions: []string{"2.1"}}, refsTo(mal2v1, ipv4v, idn3v2, ind1v3)},
			{"SpecVersion20", store.Query{SpecVersions: []string{"2.0"}}, nil},
			{"SpecVersionsAreOred", store.Query{SpecVersions: []string{"2.0", "2.1"}, IDs: []string{mal2}}, refsTo(mal2v1)},
			{"AddedAfterIsExclusive", store.Query{AddedAfter: out[3].DateAdded, Versions: all}, refsTo(ipv4v, idn3v2, ind1v3)},
			{"AfterIsExclusive", store.Query{After: out[5].DateAdded, Versions: all}, refsTo(ind1v3)},
			{"AddedAfterAndAfterTheLaterWins", store.Query{AddedAfter: out[1].DateAdded, After: out[4].DateAdded, Versions: all}, refsTo(idn3v2, ind1v3)},
			{"AfterAndAddedAfterTheLaterWins", store.Query{AddedAfter: out[4].DateAdded, After: out[1].DateAdded, Versions: all}, refsTo(idn3v2, ind1v3)},
			{"AddedAfterTheEnd", store.Query{AddedAfter: out[6].DateAdded}, nil},
			{"AllConditions", store.Query{
				Feed: store.FeedFilter{Types: []string{"indicator", "identity"}}, Types: []string{"indicator"}, IDs: []string{ind1, mal2},
				Versions: store.VersionMatch{First: true, Last: true}, SpecVersions: []string{"2.1"}, AddedAfter: out[0].DateAdded,
			}, refsTo(ind1v1, ind1v3)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.q.Limit = 100
				page, rows := scan(t, t.Context(), s, tt.q)
				if got := refs(rows); !slices.Equal(got, tt.want) {
					t.Fatalf("got  %v\nwant %v", got, tt.want)
				}
				if page.More {
					t.Fatal("More = true on a page holding every match")
				}
			})
		}
	})

	t.Run("PageSummary", func(t *testing.T) {
		s, out := setupData(t)
		ctx := t.Context()
		page, rows := scan(t, ctx, s, store.Query{Versions: all, Limit: 3})
		want := store.Page{Count: 3, First: out[0].DateAdded, Last: out[2].DateAdded, More: true}
		if page != want {
			t.Fatalf("page = %+v, want %+v", page, want)
		}
		if got := refs(rows); !slices.Equal(got, refsTo(ind1v2, mal2v1, idn3v1)) {
			t.Fatalf("rows = %v", got)
		}
		// Exactly Limit rows left: More is false.
		page, _ = scan(t, ctx, s, store.Query{Versions: all, Limit: 4, After: out[2].DateAdded})
		if want := (store.Page{Count: 4, First: out[3].DateAdded, Last: out[6].DateAdded}); page != want {
			t.Fatalf("last page = %+v, want %+v", page, want)
		}
		// More counts only rows that match: later versions that are not latest do not count.
		page, _ = scan(t, ctx, s, store.Query{Types: []string{"indicator"}, Limit: 1})
		if want := (store.Page{Count: 1, First: out[6].DateAdded, Last: out[6].DateAdded}); page != want {
			t.Fatalf("page of the latest indicator = %+v, want %+v", page, want)
		}
		page, _ = scan(t, ctx, s, store.Query{IDs: []string{ind1}, Versions: all, Limit: 2})
		if want := (store.Page{Count: 2, First: out[0].DateAdded, Last: out[3].DateAdded, More: true}); page != want {
			t.Fatalf("page of ind1's versions = %+v, want %+v", page, want)
		}
	})

	// A long match[id] list (the stores read it through the id index, then by
	// primary key) pages like any query: the selected versions, in date_added
	// order, each once, with their bytes or, with NoRaw, without.
	t.Run("LongIDList", func(t *testing.T) {
		s, ctx := setup(t)
		var objs []store.Object
		for n := range 300 {
			typ := []string{"indicator", "malware", "identity"}[n%3]
			objs = append(objs, version(objectID(typ, n), "2021-01-01T00:00:00Z"))
		}
		// A second version of every tenth object: the first stays, not latest.
		for n := 0; n < 300; n += 10 {
			objs = append(objs, version(objs[n].ID, "2021-06-01T00:00:00Z"))
		}
		add(t, ctx, s, objs...)
		var ids []string
		want := map[bool][]ref{} // by match[version]=all
		for n := 0; n < 300; n += 2 {
			ids = append(ids, objs[n].ID)
		}
		ids = append(ids, objectID("indicator", 9999)) // unknown: matches nothing
		inList := func(id string) bool { return slices.Contains(ids, id) }
		for i, o := range objs {
			if !inList(o.ID) || o.Type == "identity" {
				continue
			}
			want[true] = append(want[true], refTo(o))
			latest := i >= 300 || (i%10 != 0)
			if latest {
				want[false] = append(want[false], refTo(o))
			}
		}
		for _, all := range []bool{false, true} {
			for _, noRaw := range []bool{false, true} {
				q := store.Query{IDs: ids, Types: []string{"indicator", "malware"}, Limit: 17, NoRaw: noRaw}
				if all {
					q.Versions = store.VersionMatch{All: true}
				}
				rows := pageAll(t, ctx, s, q, false)
				if got := refs(rows); !slices.Equal(got, want[all]) {
					t.Fatalf("all=%v noRaw=%v: %d rows\ngot  %v\nwant %v", all, noRaw, len(got), got, want[all])
				}
				for _, r := range rows {
					if noRaw != (r.Raw == nil) || (!noRaw && !bytes.Contains(r.Raw, []byte(r.ID))) {
						t.Fatalf("noRaw=%v: row %s has raw %q", noRaw, r.ID, r.Raw)
					}
				}
			}
		}
	})

	t.Run("EmptyPageNeverCallsEach", func(t *testing.T) {
		s, _ := setupData(t)
		calls := 0
		err := s.ScanObjects(t.Context(), store.Query{Types: []string{"campaign"}, Limit: 10},
			func(p store.Page) error {
				if p != (store.Page{}) {
					t.Errorf("page = %+v, want zero", p)
				}
				return nil
			},
			func(store.Row) error { calls++; return nil })
		if err != nil || calls != 0 {
			t.Fatalf("err = %v, each called %d times", err, calls)
		}
	})

	t.Run("NoRawSkipsTheBytes", func(t *testing.T) {
		s, _ := setupData(t)
		_, rows := scan(t, t.Context(), s, store.Query{Versions: all, Limit: 10, NoRaw: true})
		if len(rows) != 7 {
			t.Fatalf("got %d rows, want 7", len(rows))
		}
		for _, r := range rows {
			if len(r.Raw) != 0 {
				t.Fatalf("row %s has %d raw bytes with NoRaw", r.ID, len(r.Raw))
			}
			if r.ID == "" || r.Type == "" || r.SpecVersion == "" || r.DateAdded == 0 {
				t.Fatalf("row %+v lacks fields with NoRaw", r)
			}
		}
	})

	t.Run("CallbackErrorsStopTheScanAndComeBackAsIs", func(t *testing.T) {
		s, _ := setupData(t)
		ctx := t.Context()
		stop := errors.New("client went away")
		rows := 0
		err := s.ScanObjects(ctx, store.Query{Versions: all, Limit: 10},
			func(store.Page) error { return stop },
			func(store.Row) error { rows++; return nil })
		if err != stop || rows != 0 {
			t.Fatalf("begin error: got %v after %d rows, want %v after none", err, rows, stop)
		}
		err = s.ScanObjects(ctx, store.Query{Versions: all, Limit: 10},
			func(store.Page) error { return nil },
			func(store.Row) error {
				rows++
				if rows == 2 {
					return stop
				}
				return nil
			})
		if err != stop || rows != 2 {
			t.Fatalf("each error: got %v after %d rows, want %v after 2", err, rows, stop)
		}
	})

	t.Run("ReadsOneSnapshot", func(t *testing.T) {
		// A write between begin and the rows must not show: the page streams what its summary described.
		s, _ := setupData(t)
		ctx := t.Context()
		var page store.Page
		var rows []store.Row
		err := s.ScanObjects(ctx, store.Query{Limit: 100},
			func(p store.Page) error {
				page = p
				_, err := s.AddObjects(ctx, []store.Object{version(objectID("malware", 50), "2021-01-01T00:00:00Z")})
				if err != nil {
					return err
				}
				// A new latest version of ind1: its current latest row must still stream.
				_, err = s.AddObjects(ctx, []store.Object{version(ind1, "2022-01-01T00:00:00Z")})
				return err
			},
			func(r store.Row) error { rows = append(rows, r); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if got, want := refs(rows), refsTo(mal2v1, ipv4v, idn3v2, ind1v3); page.Count != 4 || !slices.Equal(got, want) {
			t.Fatalf("summary counted %d, rows streamed %v; want 4: %v", page.Count, got, want)
		}
	})
}

func exerciseVersionFlags(t *testing.T, setup setupFunc) {
	latestAndFirst := func(t *testing.T, s store.Store, id string) (latest, first []ref) {
		t.Helper()
		_, l := scan(t, t.Context(), s, store.Query{IDs: []string{id}, Versions: store.VersionMatch{Last: true}, Limit: 100})
		_, f := scan(t, t.Context(), s, store.Query{IDs: []string{id}, Versions: store.VersionMatch{First: true}, Limit: 100})
		return refs(l), refs(f)
	}
	check := func(t *testing.T, s store.Store, id string, wantLatest, wantFirst store.Object) {
		t.Helper()
		latest, first := latestAndFirst(t, s, id)
		if want := refsTo(wantLatest); !slices.Equal(latest, want) {
			t.Errorf("latest = %v, want %v", latest, want)
		}
		if want := refsTo(wantFirst); !slices.Equal(first, want) {
			t.Errorf("first = %v, want %v", first, want)
		}
	}
	id := objectID("indicator", 1)
	v := func(month string) store.Object { return version(id, "2021-"+month+"-01T00:00:00Z") }

	t.Run("OutOfOrderAcrossCalls", func(t *testing.T) {
		s, ctx := setup(t)
		add(t, ctx, s, v("05"))
		check(t, s, id, v("05"), v("05"))
		add(t, ctx, s, v("03")) // older arrives later
		check(t, s, id, v("05"), v("03"))
		add(t, ctx, s, v("07"))
		check(t, s, id, v("07"), v("03"))
		add(t, ctx, s, v("04")) // in between: neither
		check(t, s, id, v("07"), v("03"))
		add(t, ctx, s, v("01"))
		check(t, s, id, v("07"), v("01"))
		add(t, ctx, s, v("07")) // duplicate: nothing moves
		check(t, s, id, v("07"), v("01"))
	})

	t.Run("SeveralVersionsInOneCall", func(t *testing.T) {
		s, ctx := setup(t)
		add(t, ctx, s, v("05"), v("02"), v("09"), v("01"), v("06"))
		check(t, s, id, v("09"), v("01"))
		add(t, ctx, s, v("12"), v("11"), v("10"))
		check(t, s, id, v("12"), v("01"))
	})

	t.Run("FlagsArePerID", func(t *testing.T) {
		s, ctx := setup(t)
		other := objectID("indicator", 2)
		add(t, ctx, s, v("05"), version(other, "2021-01-01T00:00:00Z"), v("06"), version(other, "2020-01-01T00:00:00Z"))
		check(t, s, id, v("06"), v("05"))
		check(t, s, other, version(other, "2021-01-01T00:00:00Z"), version(other, "2020-01-01T00:00:00Z"))
	})
}

func exerciseDeleteObject(t *testing.T, setup setupFunc) {
	id := objectID("indicator", 1)
	v := func(month string) store.Object { return version(id, "2021-"+month+"-01T00:00:00Z") }
	// Each subtest starts with versions 01, 02, 03 of id, and one malware.
	setupData := func(t *testing.T) store.Store {
		s, ctx := setup(t)
		add(t, ctx, s, v("02"), v("03"), v("01"), version(objectID("malware", 2), "2021-01-01T00:00:00Z"))
		return s
	}
	remaining := func(t *testing.T, s store.Store, vm store.VersionMatch) []ref {
		t.Helper()
		_, rows := scan(t, t.Context(), s, store.Query{IDs: []string{id}, Versions: vm, Limit: 100})
		return refs(rows)
	}
	del := func(t *testing.T, s store.Store, feed store.FeedFilter, vm store.VersionMatch, specs []string, want int) {
		t.Helper()
		n, err := s.DeleteObject(t.Context(), feed, id, vm, specs, "")
		if err != nil || n != want {
			t.Fatalf("DeleteObject = %d, %v; want %d, nil", n, err, want)
		}
	}

	t.Run("LastPromotesThePrevious", func(t *testing.T) {
		s := setupData(t)
		del(t, s, store.FeedFilter{}, store.VersionMatch{Last: true}, nil, 1)
		if got, want := remaining(t, s, all), refsTo(v("02"), v("01")); !slices.Equal(got, want) {
			t.Fatalf("remaining %v, want %v", got, want)
		}
		if got, want := remaining(t, s, store.VersionMatch{}), refsTo(v("02")); !slices.Equal(got, want) {
			t.Fatalf("latest after delete = %v, want %v", got, want)
		}
		if got, want := remaining(t, s, store.VersionMatch{First: true}), refsTo(v("01")); !slices.Equal(got, want) {
			t.Fatalf("first after delete = %v, want %v", got, want)
		}
	})

	t.Run("ZeroVersionMatchIsLast", func(t *testing.T) {
		s := setupData(t)
		del(t, s, store.FeedFilter{}, store.VersionMatch{}, nil, 1)
		if got, want := remaining(t, s, all), refsTo(v("02"), v("01")); !slices.Equal(got, want) {
			t.Fatalf("remaining %v, want %v", got, want)
		}
	})

	t.Run("FirstPromotesTheNext", func(t *testing.T) {
		s := setupData(t)
		del(t, s, store.FeedFilter{}, store.VersionMatch{First: true}, nil, 1)
		if got, want := remaining(t, s, store.VersionMatch{First: true}), refsTo(v("02")); !slices.Equal(got, want) {
			t.Fatalf("first after delete = %v, want %v", got, want)
		}
		if got, want := remaining(t, s, store.VersionMatch{Last: true}), refsTo(v("03")); !slices.Equal(got, want) {
			t.Fatalf("latest after delete = %v, want %v", got, want)
		}
	})

	t.Run("MiddleVersionByTime", func(t *testing.T) {
		s := setupData(t)
		del(t, s, store.FeedFilter{}, store.VersionMatch{Times: []string{versionKey(t, "2021-02-01T00:00:00.000Z")}}, nil, 1)
		if got, want := remaining(t, s, all), refsTo(v("03"), v("01")); !slices.Equal(got, want) {
			t.Fatalf("remaining %v, want %v", got, want)
		}
		if got, want := remaining(t, s, store.VersionMatch{First: true, Last: true}), refsTo(v("03"), v("01")); !slices.Equal(got, want) {
			t.Fatalf("first and last = %v, want %v", got, want)
		}
	})

	t.Run("FirstAndLastLeaveTheMiddleAsBoth", func(t *testing.T) {
		s := setupData(t)
		del(t, s, store.FeedFilter{}, store.VersionMatch{First: true, Last: true}, nil, 2)
		if got, want := remaining(t, s, store.VersionMatch{First: true}), refsTo(v("02")); !slices.Equal(got, want) {
			t.Fatalf("first = %v, want %v", got, want)
		}
		if got, want := remaining(t, s, store.VersionMatch{Last: true}), refsTo(v("02")); !slices.Equal(got, want) {
			t.Fatalf("last = %v, want %v", got, want)
		}
	})

	t.Run("AllThenNotFound", func(t *testing.T) {
		s := setupData(t)
		del(t, s, store.FeedFilter{}, all, nil, 3)
		if got := remaining(t, s, all); len(got) != 0 {
			t.Fatalf("remaining %v, want none", got)
		}
		if _, err := s.DeleteObject(t.Context(), store.FeedFilter{}, id, all, nil, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: err = %v, want ErrNotFound", err)
		}
		// Other objects are untouched.
		_, rows := scan(t, t.Context(), s, store.Query{Versions: all, Limit: 10})
		if len(rows) != 1 || rows[0].ID != objectID("malware", 2) {
			t.Fatalf("store holds %v, want the malware only", refs(rows))
		}
	})

	t.Run("ReAddAfterDeleteIsNew", func(t *testing.T) {
		s := setupData(t)
		ctx := t.Context()
		before := add(t, ctx, s, v("03"))
		del(t, s, store.FeedFilter{}, all, nil, 3)
		after := add(t, ctx, s, v("03"))
		if !after[0].Added || after[0].DateAdded <= before[0].DateAdded {
			t.Fatalf("re-add after delete = %+v, want added later than %d", after[0], before[0].DateAdded)
		}
		if got := remaining(t, s, store.VersionMatch{}); !slices.Equal(got, refsTo(v("03"))) {
			t.Fatalf("latest = %v", got)
		}
	})

	notFound := []struct {
		name  string
		id    string
		feed  store.FeedFilter
		vm    store.VersionMatch
		specs []string
	}{
		{"UnknownID", objectID("indicator", 99), store.FeedFilter{}, all, nil},
		{"HiddenByTheFeed", id, store.FeedFilter{Types: []string{"malware"}}, all, nil},
		{"NoSuchVersion", id, store.FeedFilter{}, store.VersionMatch{Times: []string{versionKey(t, "1999-01-01T00:00:00Z")}}, nil},
		{"OtherSpecVersion", id, store.FeedFilter{}, all, []string{"2.0"}},
	}
	for _, tt := range notFound {
		t.Run("NotFound/"+tt.name, func(t *testing.T) {
			s := setupData(t)
			n, err := s.DeleteObject(t.Context(), tt.feed, tt.id, tt.vm, tt.specs, "")
			if !errors.Is(err, store.ErrNotFound) || n != 0 {
				t.Fatalf("DeleteObject = %d, %v; want 0, ErrNotFound", n, err)
			}
			if got := remaining(t, s, all); len(got) != 3 {
				t.Fatalf("remaining %v, want the 3 versions", got)
			}
		})
	}

	t.Run("VisibleThroughTheFeed", func(t *testing.T) {
		s := setupData(t)
		del(t, s, store.FeedFilter{Types: []string{"indicator"}}, all, []string{"2.1"}, 3)
	})
}
