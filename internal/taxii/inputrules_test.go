package taxii

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

// indicatorAt is a valid indicator whose created and modified are ts.
func indicatorAt(n int, ts string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":%q,"modified":%q,`+
		`"name":"i%d","pattern":"[ipv4-addr:value = '10.1.0.%d']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"}`,
		stixID("indicator", n), ts, ts, n, n)
}

// A leap second is stored and found again; a timestamp finer than the
// nanosecond fails alone, with its reason; the valid objects beside them are stored.
func TestAddObjectsTimestampShapes(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		const leap, tooFine = "2016-12-31T23:59:60.000Z", "2016-12-31T23:59:59.1234567891Z"
		r := b.post(t, "writer", "windicators", envelopeOf(
			indicator(1, mod1),
			indicatorAt(2, leap),
			indicatorAt(3, tooFine),
			indicator(4, mod2),
		))
		s := r.accepted(t)
		want := []string{stixID("indicator", 1) + "@" + mod1, stixID("indicator", 2) + "@" + leap, stixID("indicator", 4) + "@" + mod2}
		if got := s.successIDs(); !slices.Equal(got, want) {
			t.Fatalf("successes %v, want %v: %s", got, want, r.body)
		}
		f := s.failure(t, stixID("indicator", 3))
		if !strings.Contains(f.Message, "has 10 fractional digits; timestamps are kept to the nanosecond, so at most 9") {
			t.Errorf("failure message %q", f.Message)
		}
		slices.Sort(want)
		if got := storedRefs(stored(t, st)); !slices.Equal(got, want) {
			t.Fatalf("stored %v, want %v", got, want)
		}
		got := b.get(t, "reader", b.objectsURL("windicators")+stixID("indicator", 2)+"/?match[version]="+url.QueryEscape(leap)).ok(t).envelope(t)
		if ids := got.ids(t); !slices.Equal(ids, []string{stixID("indicator", 2)}) {
			t.Fatalf("match[version]=%s found %v", leap, ids)
		}
	})
}

// Numbers common clients cannot read fail their object alone, with the
// rule; the valid objects beside them are stored.
func TestAddObjectsNumberRule(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		b := setupWrite(t, st, Options{})
		withNumber := func(n int, lit string) string {
			return strings.Replace(indicator(n, mod1), `"pattern_type"`, `"x_score":`+lit+`,"pattern_type"`, 1)
		}
		r := b.post(t, "writer", "windicators", envelopeOf(
			indicator(1, mod1),
			withNumber(2, "1e999999"),
			withNumber(3, "1"+strings.Repeat("0", 100_000)),
			withNumber(4, "1e308"),
		))
		s := r.accepted(t)
		want := []string{stixID("indicator", 1) + "@" + mod1, stixID("indicator", 4) + "@" + mod1}
		if got := s.successIDs(); !slices.Equal(got, want) {
			t.Fatalf("successes %v, want %v", got, want)
		}
		for n, msg := range map[int]string{
			2: "/x_score: the number 1e999999 is beyond the range of an IEEE-754 double",
			3: "/x_score: a number of 100001 digits; numbers have at most 100 digits",
		} {
			if f := s.failure(t, stixID("indicator", n)); !strings.Contains(f.Message, msg) {
				t.Errorf("indicator %d: message %q, want %q", n, f.Message, msg)
			}
		}
		if got := storedRefs(stored(t, st)); !slices.Equal(got, want) {
			t.Fatalf("stored %v, want %v", got, want)
		}
	})
}
