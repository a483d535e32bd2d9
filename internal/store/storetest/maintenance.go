package storetest

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

// withProps adds JSON members to an object's raw JSON.
func withProps(o store.Object, members string) store.Object {
	o.Raw = []byte(strings.Replace(string(o.Raw), ` ,"name"`, ` ,`+members+`,"name"`, 1))
	return o
}

func exerciseMaintenance(t *testing.T, setup setupFunc) {
	t.Run("PurgeObjects", func(t *testing.T) {
		s, ctx := setup(t)
		// A feed served by a membership index: purged versions must leave it too.
		const feedID = "00000000-0000-4000-8000-0000000000fe"
		if err := s.CreateFeed(ctx, store.Feed{ID: feedID, Title: "unrevoked", Filter: store.FeedFilter{ExcludeRevoked: true}}); err != nil {
			t.Fatal(err)
		}
		old := objectID("indicator", 1)
		updated := objectID("indicator", 2)
		old2 := add(t, ctx, s,
			version(old, "2021-01-01T00:00:00.000Z"),
			version(old, "2021-02-01T00:00:00.000Z"),
			version(objectID("malware", 3), "2021-01-01T00:00:00.000Z"),
			withProps(version(objectID("indicator", 4), "2021-01-01T00:00:00.000Z"), `"revoked":true`),
			withProps(version(objectID("indicator", 5), "2021-01-01T00:00:00.000Z"), `"valid_until":"2020-06-01T00:00:00Z"`),
			withProps(version(objectID("indicator", 6), "2021-01-01T00:00:00.000Z"), `"revoked":false,"valid_until":"2030-06-01T00:00:00Z"`),
			version(updated, "2021-01-01T00:00:00.000Z"),
		)
		cutoff := old2[len(old2)-1].DateAdded + 1
		add(t, ctx, s, version(updated, "2023-01-01T00:00:00.000Z"), version(objectID("indicator", 7), "2023-01-01T00:00:00.000Z"))
		all := store.Query{Versions: store.VersionMatch{All: true}, Limit: 100}
		_, before := scan(t, ctx, s, all)

		purge := func(p store.Purge, objects, versions int64) {
			t.Helper()
			p.Before = cutoff
			res, err := s.PurgeObjects(ctx, p)
			if err != nil || res != (store.PurgeResult{Objects: objects, Versions: versions}) {
				t.Fatalf("purge %+v: %+v %v, want %d objects, %d versions", p, res, err, objects, versions)
			}
		}
		purge(store.Purge{DryRun: true}, 5, 6)
		if _, rows := scan(t, ctx, s, all); len(rows) != len(before) {
			t.Fatalf("a dry run removed rows: %d of %d left", len(rows), len(before))
		}
		purge(store.Purge{Feed: store.FeedFilter{Types: []string{"malware"}}}, 1, 1)
		purge(store.Purge{Revoked: true}, 1, 1)
		purge(store.Purge{ExpiredBefore: "2021-01-01T00:00:00Z"}, 1, 1)
		purge(store.Purge{}, 2, 3) // the old indicator (two versions) and indicator 6

		// What remains is every version of the objects touched after the cutoff, each
		// with its date_added unchanged, so a poller's watermark still finds them all.
		_, rows := scan(t, ctx, s, all)
		var got, want []string
		for _, r := range rows {
			got = append(got, string(refOf(r))+"@"+strconv.FormatInt(r.DateAdded, 10))
		}
		for _, r := range before {
			if r.ID == updated || r.ID == objectID("indicator", 7) {
				want = append(want, string(refOf(r))+"@"+strconv.FormatInt(r.DateAdded, 10))
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("after purging:\n got %v\nwant %v", got, want)
		}
		f, err := s.GetFeed(ctx, feedID)
		if err != nil {
			t.Fatal(err)
		}
		if _, inFeed := scan(t, ctx, s, store.Query{Feed: f.Filter, Versions: store.VersionMatch{All: true}, Limit: 100}); !slices.Equal(refs(inFeed), refs(rows)) {
			t.Fatalf("after purging, the indexed feed shows %v, want %v", refs(inFeed), refs(rows))
		}
		if _, err := s.PurgeObjects(ctx, store.Purge{}); err == nil {
			t.Fatal("a purge without a cutoff was accepted")
		}
	})
}
