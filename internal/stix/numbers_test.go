package stix

import (
	"strings"
	"testing"
)

// TestNumberRule: a number that is not a finite double, or that has more
// than 100 digits, fails its object with the path and the rule; anything
// else a double can hold passes.
func TestNumberRule(t *testing.T) {
	def, _ := validators(t)
	ind := baseIndicator()
	cases := []struct {
		name, lit, path, reason string // reason "" means valid
	}{
		{"small integer", "42", "", ""},
		{"largest double", "1.7976931348623157e308", "", ""},
		{"underflows to zero", "1.5e-400", "", ""},
		{"100 digits", strings.Repeat("9", 100), "", ""},
		{"100 digits with fraction and exponent", "1." + strings.Repeat("1", 96) + "e10", "", ""},
		{"beyond a double", "1e999999", "/x_n", "the number 1e999999 is beyond the range of an IEEE-754 double"},
		{"negative beyond a double", "-1.8e308", "/x_n", "beyond the range of an IEEE-754 double"},
		{"101 digits", strings.Repeat("9", 101), "/x_n", "a number of 101 digits; numbers have at most 100 digits"},
		{"a million digits", "1" + strings.Repeat("0", 1_000_000), "/x_n", "a number of 1000001 digits"},
		{"long exponent", "1e" + strings.Repeat("0", 100), "/x_n", "a number of 101 digits"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := with(ind, "x_n", "NUM")
			raw = []byte(strings.Replace(string(raw), `"NUM"`, c.lit, 1))
			_, err := def.Validate(raw)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			e := asError(t, err)
			if e.Path != c.path || !strings.Contains(e.Reason, c.reason) || strings.Contains(e.Reason, "invalid JSON") || e.ID != ind["id"] {
				t.Fatalf("got id %q path %q reason %q; want path %q reason containing %q", e.ID, e.Path, e.Reason, c.path, c.reason)
			}
		})
	}
	// Deep inside arrays and objects, too.
	raw := with(ind, "x_list", []any{map[string]any{"a": "NUM"}})
	raw = []byte(strings.Replace(string(raw), `"NUM"`, "-1e400", 1))
	if e := asError(t, mustFail(def.Validate(raw))); e.Path != "/x_list/0/a" {
		t.Fatalf("path %q, reason %q", e.Path, e.Reason)
	}
}

func mustFail(_ Meta, err error) error { return err }

func asError(t *testing.T, err error) *Error {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	return e
}
