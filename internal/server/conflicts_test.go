package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/store/storetest"
)

// TestAddObjectsConflicts (issue 16): through the assembled server, on both
// stores, a version posted again with the same content (another layout) is a
// success, and with other content a failure with its reason; the first content
// stays, its date_added does not move, and a poller sees nothing new.
func TestAddObjectsConflicts(t *testing.T) {
	for _, s := range storetest.Stores(t) {
		t.Run(s.Name, func(t *testing.T) {
			r := assembleSources(t, s.New(t))
			objects := apiRoot + "/collections/" + feedA + "/objects/"
			const mod = "2026-02-01T00:00:00.000Z"
			x := "indicator--00000000-0000-4000-8000-000000000001"
			first := sourceIndicator(1, mod)
			relaid := strings.ReplaceAll(first, `","`, `",  "`)
			other := strings.Replace(first, "10.0.0.1'", "10.0.0.99'", 1)
			post := func(objs ...string) addStatus {
				t.Helper()
				resp, body := r.do(t, "POST", objects, r.keys["writer-a"], `{"objects":[`+strings.Join(objs, ",")+`]}`)
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("POST: %s %s", resp.Status, body)
				}
				var st addStatus
				if err := json.Unmarshal([]byte(body), &st); err != nil {
					t.Fatal(err)
				}
				return st
			}
			if st := post(first); st.SuccessCount != 1 {
				t.Fatalf("first post: %+v", st)
			}
			resp, page := r.do(t, "GET", objects, r.keys["admin"], "")
			last := resp.Header.Get("X-TAXII-Date-Added-Last")
			if resp.StatusCode != http.StatusOK || last == "" {
				t.Fatalf("GET: %s %s", resp.Status, page)
			}

			st := post(relaid, other)
			want := "object " + x + " version " + mod + " is already stored with other content; the first version is kept"
			if st.SuccessCount != 1 || st.FailureCount != 1 || st.Failures[0].ID != x || st.Failures[0].Version != mod ||
				st.Failures[0].Message != want {
				t.Fatalf("status %+v, want the same content a success and the other a failure: %q", st, want)
			}

			resp, body := r.do(t, "GET", objects+"?added_after="+last, r.keys["admin"], "")
			if resp.StatusCode != http.StatusOK || strings.Contains(body, x) {
				t.Errorf("a poller past the first version sees %s %s", resp.Status, body)
			}
			resp, body = r.do(t, "GET", objects, r.keys["admin"], "")
			if body != page || resp.Header.Get("X-TAXII-Date-Added-Last") != last {
				t.Errorf("the collection changed:\n%s\nwas\n%s", body, page)
			}
		})
	}
}
