package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// assembleSources starts New around the real TAXII API on st with two writable
// feeds, A (every type) and B (indicators), and three keys: "writer-a", a
// read-write key limited to A whose source is its name; "writer-b", limited to
// B with the source "vendor-b"; and "admin".
func assembleSources(t *testing.T, st store.Store) *real {
	t.Helper()
	ctx := t.Context()
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range []store.Feed{
		{ID: feedA, Title: "A", Writable: true, CreatedAt: created},
		{ID: feedB, Title: "B", Writable: true, Filter: store.FeedFilter{Types: []string{"indicator"}}, CreatedAt: created.Add(time.Minute)},
	} {
		if err := st.CreateFeed(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	r := &real{st: &countingKeys{Store: st}, keys: map[string]string{}}
	for _, k := range []struct {
		name, source string
		role         store.Role
		feeds        []string
	}{
		{"writer-a", "", store.RoleReadWrite, []string{feedA}},
		{"writer-b", "vendor-b", store.RoleReadWrite, []string{feedB}},
		{"admin", "", store.RoleAdmin, nil},
	} {
		plain, key, err := auth.Generate(k.name, k.role, k.feeds, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		key.Source = k.source
		if err := st.CreateKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		r.keys[k.name] = plain
	}
	api, err := taxii.NewHandler(taxiiOptions(), st, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(New(Options{TAXII: api, Store: okPinger{}}))
	t.Cleanup(r.srv.Close)
	return r
}

func sourceIndicator(n int, modified string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d",`+
		`"created":"2026-01-01T00:00:00.000Z","modified":%q,"pattern":"[ipv4-addr:value = '10.0.0.%d']",`+
		`"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, n, modified, n)
}

type addStatus struct {
	SuccessCount int `json:"success_count"`
	FailureCount int `json:"failure_count"`
	Successes    []struct {
		ID string `json:"id"`
	} `json:"successes"`
	Failures []struct {
		ID, Version, Message string
	} `json:"failures"`
}

// TestWritersAreConfinedToTheirSource: a read-write key limited to feed A can
// neither delete nor outdate (a version modified in 2099) an object that feed
// B's writer stored and that feed B serves; the other objects of its request are
// stored and the POST answers 202 (issue 10, items 2 and 3). Each writer keeps
// changing its own objects, and an admin changes anything.
func TestWritersAreConfinedToTheirSource(t *testing.T) {
	for _, s := range storetest.Stores(t) {
		t.Run(s.Name, func(t *testing.T) {
			st := s.New(t)
			r := assembleSources(t, st)
			objects := func(feed string) string { return apiRoot + "/collections/" + feed + "/objects/" }
			post := func(key, feed string, objs ...string) addStatus {
				t.Helper()
				resp, body := r.do(t, "POST", objects(feed), r.keys[key], `{"objects":[`+strings.Join(objs, ",")+`]}`)
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("%s posts to %s: %s %s", key, feed, resp.Status, body)
				}
				var s addStatus
				if err := json.Unmarshal([]byte(body), &s); err != nil {
					t.Fatal(err)
				}
				return s
			}
			x, y := "indicator--00000000-0000-4000-8000-000000000001", "indicator--00000000-0000-4000-8000-000000000002"
			const mod1, mod2, year2099 = "2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z", "2099-01-01T00:00:00.000Z"

			if s := post("writer-b", feedB, sourceIndicator(1, mod1)); s.SuccessCount != 1 {
				t.Fatalf("writer-b adds x: %+v", s)
			}
			if resp, _ := r.do(t, "GET", objects(feedB), r.keys["writer-a"], ""); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("writer-a reads feed B: %s, want 404", resp.Status)
			}

			// x fails alone; y, in the same request, is stored.
			s := post("writer-a", feedA, sourceIndicator(1, year2099), sourceIndicator(2, mod1))
			if s.SuccessCount != 1 || s.Successes[0].ID != y || s.FailureCount != 1 {
				t.Fatalf("status %+v, want y stored and x failed", s)
			}
			if f := s.Failures[0]; f.ID != x || f.Version != year2099 || f.Message != "object "+x+" belongs to another source" {
				t.Fatalf("failure %+v", f)
			}
			resp, body := r.do(t, "GET", objects(feedB)+"?match[id]="+x, r.keys["writer-b"], "")
			if resp.StatusCode != http.StatusOK || strings.Count(body, `"id":"`+x+`"`) != 1 || !strings.Contains(body, mod1) || strings.Contains(body, year2099) {
				t.Fatalf("feed B serves after the refused 2099 version: %s %s", resp.Status, body)
			}

			// DELETE: 403 with a TAXII error, and x is still there.
			resp, body = r.do(t, "DELETE", objects(feedA)+x+"/", r.keys["writer-a"], "")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"error_code":"other_source"`) || !strings.Contains(body, "belongs to another source") {
				t.Fatalf("writer-a deletes x: %s %s", resp.Status, body)
			}
			if resp, body := r.do(t, "GET", objects(feedB)+x+"/", r.keys["writer-b"], ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, x) {
				t.Fatalf("x after the refused delete: %s %s", resp.Status, body)
			}

			// Own objects stay writable; the store recorded each key's source.
			if s := post("writer-b", feedB, sourceIndicator(1, mod2)); s.SuccessCount != 1 {
				t.Fatalf("writer-b adds a version of x: %+v", s)
			}
			sources, err := st.ListSources(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := []store.SourceCount{{Source: "admin", Objects: 0}, {Source: "vendor-b", Objects: 1}, {Source: "writer-a", Objects: 1}}
			if !slices.Equal(sources, want) {
				t.Fatalf("sources %+v, want %+v", sources, want)
			}
			if resp, body := r.do(t, "DELETE", objects(feedA)+y+"/", r.keys["writer-a"], ""); resp.StatusCode != http.StatusOK {
				t.Fatalf("writer-a deletes its own y: %s %s", resp.Status, body)
			}
			if s := post("admin", feedA, sourceIndicator(1, year2099)); s.SuccessCount != 1 {
				t.Fatalf("admin adds to x: %+v", s)
			}
			if resp, body := r.do(t, "DELETE", objects(feedA)+x+"/", r.keys["admin"], ""); resp.StatusCode != http.StatusOK {
				t.Fatalf("admin deletes x: %s %s", resp.Status, body)
			}
		})
	}
}
