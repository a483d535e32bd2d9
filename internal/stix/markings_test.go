package stix

import (
	"strings"
	"testing"
)

// TestGranularMarkings: STIX 2.1 §7.2.3 wants exactly one of lang and
// marking_ref in a granular marking (the OASIS schema requires marking_ref),
// and the fast evaluator and the schema library agree on each case.
func TestGranularMarkings(t *testing.T) {
	def, _ := validators(t)
	const ref = `"marking_ref":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"`
	cases := []struct {
		name, marking, reason string // reason "" means valid
	}{
		{"language", `{"lang":"de","selectors":["name"]}`, ""},
		{"marking_ref", `{` + ref + `,"selectors":["name"]}`, ""},
		{"both", `{"lang":"de",` + ref + `,"selectors":["name"]}`, "a granular marking has exactly one of lang and marking_ref (STIX 2.1 section 7.2.3); this one has both"},
		{"neither", `{"selectors":["name"]}`, "a granular marking has exactly one of lang and marking_ref (STIX 2.1 section 7.2.3); this one has neither"},
		{"no selectors", `{"lang":"de"}`, "required property selectors is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := strings.Replace(string(with(baseIndicator(), "granular_markings", "GM")), `"GM"`, `[`+c.marking+`]`, 1)
			_, err := def.Validate([]byte(raw))
			if c.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			} else {
				e := asError(t, err)
				if !strings.HasPrefix(e.Path, "/granular_markings/0") || e.Reason != c.reason {
					t.Fatalf("got %q: %q, want /granular_markings/0: %q", e.Path, e.Reason, c.reason)
				}
			}
			// The pre-check answers as the library does (or does not know).
			doc, jerr := parseJSON([]byte(raw), def.lim)
			if jerr != nil {
				t.Fatal(jerr.msg)
			}
			ts := def.schemas.types["indicator"]
			fast := ts.fast.eval(doc, 0)
			lib := ts.schema.Validate(doc) == nil
			if fast != unknown && (fast == yes) != lib {
				t.Fatalf("fast evaluator says %v, library says valid=%v", fast, lib)
			}
			if lib != (c.reason == "") {
				t.Fatalf("library says valid=%v", lib)
			}
		})
	}
}
