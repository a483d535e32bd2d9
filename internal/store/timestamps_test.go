package store_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// TestValidatorAndStoreAgreeOnTimestamps: every timestamp shape that
// validation accepts in created/modified has a store version key, and every
// shape it refuses has none, so AddObjects never meets an object it cannot keep.
func TestValidatorAndStoreAgreeOnTimestamps(t *testing.T) {
	v, err := stix.NewValidator(stix.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, ts string
		valid    bool
		key      string // when valid
		reason   string // when not
	}{
		{"milliseconds", "2016-12-31T23:59:59.123Z", true, "2016-12-31T23:59:59.123000000Z", ""},
		{"nine fractional digits", "2016-12-31T23:59:59.123456789Z", true, "2016-12-31T23:59:59.123456789Z", ""},
		{"real leap second", "2016-12-31T23:59:60.000Z", true, "2016-12-31T23:59:60.000000000Z", ""},
		{"leap second with fraction", "2016-12-31T23:59:60.500Z", true, "2016-12-31T23:59:60.500000000Z", ""},
		{"ten fractional digits", "2016-12-31T23:59:59.1234567891Z", false, "", "has 10 fractional digits; timestamps are kept to the nanosecond, so at most 9"},
		{"thirty fractional digits", "2016-01-01T00:00:00." + strings.Repeat("1", 30) + "Z", false, "", "has 30 fractional digits"},
		{"leap second that never happened", "2017-12-31T23:59:60.000Z", false, "", "no leap second then"},
		{"leap second not at midnight", "2016-12-31T12:00:60.000Z", false, "", "no leap second then"},
		{"no such date", "2021-02-29T00:00:00.000Z", false, "", "not a real date"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := fmt.Sprintf(`{"type":"identity","spec_version":"2.1","id":"identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":%q,"modified":%q,"name":"x"}`, c.ts, c.ts)
			meta, verr := v.Validate([]byte(raw))
			key, kerr := store.VersionKey(store.ObjectVersion(meta.Created, meta.Modified))
			if !c.valid {
				if verr == nil || !strings.Contains(verr.Error(), c.reason) {
					t.Fatalf("validation: got %v, want a refusal saying %q", verr, c.reason)
				}
				if _, kerr := store.VersionKey(c.ts); kerr == nil || !strings.Contains(kerr.Error(), c.reason) {
					t.Fatalf("store: got %v, want a refusal saying %q", kerr, c.reason)
				}
				return
			}
			if verr != nil {
				t.Fatalf("validation refused: %v", verr)
			}
			if kerr != nil || key != c.key {
				t.Fatalf("store key = %q, %v; want %q", key, kerr, c.key)
			}
		})
	}
}

// TestVersionKeyOrder: keys sort as time does, a leap second between
// 23:59:59.999999999 and the next day, and an offset names the same instant.
func TestVersionKeyOrder(t *testing.T) {
	in := []string{
		"2016-12-31T23:59:59.999999999Z",
		"2016-12-31T23:59:60Z",
		"2016-12-31T23:59:60.999Z",
		"2017-01-01T00:00:00Z",
	}
	prev := ""
	for _, s := range in {
		k, err := store.VersionKey(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if k <= prev {
			t.Errorf("key %q of %s does not sort after %q", k, s, prev)
		}
		prev = k
	}
	a, errA := store.VersionKey("2020-05-01T10:00:00.5+02:00")
	b, errB := store.VersionKey("2020-05-01t08:00:00.500z")
	if errA != nil || errB != nil || a != b || a != "2020-05-01T08:00:00.500000000Z" {
		t.Errorf("offset and lower-case forms: %q (%v), %q (%v)", a, errA, b, errB)
	}
	if _, err := store.ParseTimestamp("2020-05-01T10:00:00.1234567891+02:00"); err == nil {
		t.Error("an offset timestamp with 10 fractional digits was accepted")
	}
	lt, err := store.ParseTimestamp("2016-12-31T23:59:60.000Z")
	if err != nil || lt.Format("15:04:05.000000000") != "23:59:59.999999999" {
		t.Errorf("leap second as time: %v, %v", lt, err)
	}
}
