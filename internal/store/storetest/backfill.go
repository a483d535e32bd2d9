package storetest

import (
	"slices"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

// ExerciseBackfill proves that migration 0005 fills the filter columns of
// versions stored before it, from their stored bytes. s is a new store;
// undo takes the schema back to before 0005, keeping the rows.
func ExerciseBackfill(t *testing.T, s store.Store, undo func(t *testing.T)) {
	t.Helper()
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	objs := filterFixture(t, ctx, s)
	undo(t)
	if err := s.CheckSchema(ctx); err == nil {
		t.Fatal("undo left migration 0005 recorded")
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after undo: %v", err)
	}
	for _, c := range []struct {
		filter store.FeedFilter
		want   []string
	}{
		{store.FeedFilter{TLP: []store.TLP{store.TLPClear}}, []string{"clear", "white"}},
		{store.FeedFilter{TLP: []store.TLP{store.TLPAmber}}, []string{"amber", "customAmber"}},
		{store.FeedFilter{TLP: []store.TLP{store.TLPRed}}, []string{"customRed", "red", "red2"}},
		{store.FeedFilter{CreatedBy: []string{identityB}}, []string{"noConf", "viaB"}},
		{store.FeedFilter{MinConfidence: 50}, []string{"byA", "revoked", "viaB"}},
		{store.FeedFilter{Labels: []string{"phishing", "botnet"}}, []string{"byA", "expired", "viaB"}},
		{store.FeedFilter{Types: []string{"indicator"}, ExcludeRevoked: true, ExcludeExpired: true, MinConfidence: 1},
			[]string{"byA", "viaB"}},
	} {
		if got := feedShows(t, ctx, s, objs, c.filter); !slices.Equal(got, c.want) {
			t.Errorf("after back-fill, feed %+v shows %v, want %v", c.filter, got, c.want)
		}
	}
}
