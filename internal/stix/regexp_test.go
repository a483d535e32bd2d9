package stix

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The hand-written matchers must mean exactly what their patterns mean.
func TestFastRegexpsMatchRegexp(t *testing.T) {
	alphabet := []string{"a", "z", "T", "Z", "0", "9", "5", "1", "8", "b", "A", "_", "-", "--", ":", ".", "id", "_bin", "_hex", "-ext", "é", " "}
	seeds := []string{
		"", "id", "abc", "ab", "a_b", "Abc", "x_foo", "foo_bin", "_bin", "a_bin", "A_bin", "a_hex", "a-b_hex",
		"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f",
		"indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f", "a--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		"ab--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "x-b--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "x---8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		"2016-01-01T00:00:00Z", "2016-01-01T00:00:00.000Z", "2016-13-01T00:00:00Z", "2016-01-01T24:00:00Z", "2016-01-01T23:59:60Z",
		"2016-01-01T00:00:00.Z", "2016-01-01t00:00:00Z", "T00:00:00.123Z", "xT00:00:00.12Z", "T00:00:00.1234Z", "2016-01-01T00:00:00.123",
		"indicator", "x-foo", "x-foo-", "x--foo", "-x", "a1-b2-c3", "a-", "x-foo-ext", "foo-ext", "ext", "-ext", "a--ext",
	}
	r := rand.New(rand.NewPCG(1, 2))
	inputs := append([]string(nil), seeds...)
	for range 20_000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		inputs = append(inputs, b.String())
	}
	// Mutate the structured seeds one character at a time.
	for _, s := range seeds {
		for i := range len(s) {
			for _, c := range []string{"0", "a", "-", "Z", "", "99"} {
				inputs = append(inputs, s[:i]+c+s[i+1:])
			}
		}
	}
	for src, fast := range fastPatterns {
		re := regexp.MustCompile(src)
		for _, in := range inputs {
			if got, want := fast(in), re.MatchString(in); got != want {
				t.Errorf("%s on %q: fast %v, regexp %v", src, in, got, want)
			}
		}
	}
	prefix, err := regexpEngine("^indicator--")
	if err != nil || !prefix.MatchString("indicator--x") || prefix.MatchString("xindicator--") {
		t.Errorf("literal prefix matcher broken: %v", err)
	}
	if _, err := regexpEngine("(("); err == nil {
		t.Error("invalid regexp accepted")
	}
}
