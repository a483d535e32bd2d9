package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// ruleIndicator is a valid indicator with created and modified ts, plus extra members.
func ruleIndicator(n int, ts, extra string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":%q,"modified":%q,`+
		`"pattern":"[ipv4-addr:value = '10.2.0.%d']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"%s}`, n, ts, ts, n, extra)
}

// TestAddObjectsInputRules: through the assembled server, objects with a leap
// second are stored and found again, while a timestamp finer than the nanosecond
// and numbers common clients cannot read fail alone with their reasons; the
// valid objects of the same request are stored.
func TestAddObjectsInputRules(t *testing.T) {
	r := assemble(t, Options{})
	const ok, leap, tooFine = "2026-01-01T00:00:00.000Z", "2016-12-31T23:59:60.000Z", "2016-12-31T23:59:59.1234567891Z"
	body := `{"objects":[` + strings.Join([]string{
		ruleIndicator(1, ok, ""),
		ruleIndicator(2, leap, ""),
		ruleIndicator(3, tooFine, ""),
		ruleIndicator(4, ok, `,"x_score":1e999999`),
		ruleIndicator(5, ok, `,"x_score":`+strings.Repeat("9", 101)),
		ruleIndicator(6, ok, `,"x_score":1e308`),
	}, ",") + `]}`
	resp, got := r.do(t, "POST", apiRoot+"/collections/"+feedA+"/objects/", r.keys["writer"], body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %s %s", resp.Status, got)
	}
	for _, want := range []string{
		`"success_count":3`, `"failure_count":3`,
		`"id":"indicator--00000000-0000-4000-8000-000000000002","version":"` + leap + `"`,
		"has 10 fractional digits; timestamps are kept to the nanosecond, so at most 9",
		"/x_score: the number 1e999999 is beyond the range of an IEEE-754 double",
		"/x_score: a number of 101 digits; numbers have at most 100 digits",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %s: %s", want, got)
		}
	}
	for n, want := range map[int]int{1: 200, 2: 200, 3: 404, 4: 404, 5: 404, 6: 200} {
		path := fmt.Sprintf("%s/collections/%s/objects/indicator--00000000-0000-4000-8000-%012d/", apiRoot, feedA, n)
		if n == 2 {
			path += "?match[version]=" + url.QueryEscape(leap)
		}
		if resp, body := r.do(t, "GET", path, r.keys["reader"], ""); resp.StatusCode != want || want == 200 && !strings.Contains(body, fmt.Sprintf("%012d", n)) {
			t.Errorf("GET indicator %d: %s %s, want %d", n, resp.Status, body, want)
		}
	}
}
