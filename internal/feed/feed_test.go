package feed

import (
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

func TestSetAndDescribe(t *testing.T) {
	var f store.FeedFilter
	for _, kv := range [][2]string{
		{"types", "indicator, x-acme-thing"}, {"tlp", "green,white,amber+strict,green"}, {"min-confidence", "60"},
		{"labels", "c2"}, {"exclude-revoked", "true"}, {"with-context", "true"},
		{"created-by", "identity--00000000-0000-4000-8000-000000000001"},
	} {
		if err := Set(&f, kv[0], kv[1]); err != nil {
			t.Fatalf("Set(%s, %s): %v", kv[0], kv[1], err)
		}
	}
	want := "indicator or x-acme-thing objects, TLP:CLEAR, GREEN or AMBER+STRICT, created by identity--00000000-0000-4000-8000-000000000001, " +
		"confidence at least 60, labelled c2, not revoked; with every identity and marking-definition"
	if got := Describe(f); got != want {
		t.Errorf("Describe =\n%s\nwant\n%s", got, want)
	}
	if err := Validate(f, nil); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if Describe(store.FeedFilter{}) != "every object" {
		t.Errorf("Describe of no filter = %q", Describe(store.FeedFilter{}))
	}
}

func TestValidateTypes(t *testing.T) {
	err := Validate(store.FeedFilter{Types: []string{"indicators"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "did you mean indicator") {
		t.Errorf("Validate(indicators) = %v", err)
	}
	// A type already in the store is accepted, and suggested.
	if err := Validate(store.FeedFilter{Types: []string{"acme-ioc"}}, []string{"acme-ioc"}); err != nil {
		t.Errorf("a stored type was refused: %v", err)
	}
	err = Validate(store.FeedFilter{ExcludeTypes: []string{"acme-iocs"}}, []string{"acme-ioc"})
	if err == nil || !strings.Contains(err.Error(), "did you mean acme-ioc") {
		t.Errorf("Validate(acme-iocs) = %v", err)
	}
}

func TestDefaultFeedRules(t *testing.T) {
	def := store.Feed{ID: strings.ToUpper(DefaultID), Title: DefaultTitle}
	if CheckDelete(def) == nil {
		t.Error("the default feed may be deleted")
	}
	retitled := def
	retitled.Title = "All"
	if err := CheckUpdate(def, retitled); err != nil {
		t.Errorf("retitling the default feed: %v", err)
	}
	filtered := def
	filtered.Filter.ExcludeRevoked = true
	if CheckUpdate(def, filtered) == nil {
		t.Error("the default feed's filter may change")
	}
	other := store.Feed{ID: "00000000-0000-4000-8000-000000000001"}
	if CheckDelete(other) != nil || CheckUpdate(other, store.Feed{ID: other.ID, Filter: filtered.Filter}) != nil {
		t.Error("rules of the default feed applied to another feed")
	}
}
