package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// A match list longer than its cap is refused with a TAXII 400, on every paged
// endpoint and on DELETE, through the assembled server; a list at the cap is
// served, and repeated values count once.
func TestMatchListCaps(t *testing.T) {
	const feedID = "9a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01"
	ids := func(n int) string {
		var l []string
		for i := range n {
			l = append(l, fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i))
		}
		return strings.Join(l, ",")
	}
	times := func(n int) string {
		var l []string
		for i := range n {
			l = append(l, fmt.Sprintf("2021-01-01T00:00:%02dZ", i))
		}
		return strings.Join(l, ",")
	}
	for _, st := range storetest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			s := st.New(t)
			ctx := context.Background()
			if err := s.CreateFeed(ctx, store.Feed{ID: feedID, Title: "All", Writable: true}); err != nil {
				t.Fatal(err)
			}
			plain, key, err := auth.Generate("admin", store.RoleAdmin, nil, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateKey(ctx, key); err != nil {
				t.Fatal(err)
			}
			serve := func(opts taxii.Options) string {
				h, err := taxii.NewHandler(opts, s, zaptest.NewLogger(t))
				if err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewServer(New(Options{TAXII: h, Store: s, Log: zaptest.NewLogger(t)}))
				t.Cleanup(srv.Close)
				return srv.URL + "/api/v2/inthreat/taxii-server/collections/" + feedID
			}
			do := func(t *testing.T, method, url string) (int, []byte) {
				t.Helper()
				req, err := http.NewRequest(method, url, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Accept", taxii.MediaTypeTAXII)
				req.Header.Set("Authorization", "Bearer "+plain)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, body
			}
			refused := func(t *testing.T, method, url, param string, limit int) {
				t.Helper()
				status, body := do(t, method, url)
				var e struct {
					Title, Description string
					HTTPStatus         string `json:"http_status"`
				}
				if err := json.Unmarshal(body, &e); err != nil || status != 400 || e.HTTPStatus != "400" ||
					!strings.Contains(e.Description, param) || !strings.Contains(e.Description, fmt.Sprintf("at most %d", limit)) {
					t.Fatalf("%s %s: %d %s; want a TAXII 400 naming %s and its cap %d", method, url[:min(len(url), 120)], status, body, param, limit)
				}
			}
			served := func(t *testing.T, method, url string, want int) {
				t.Helper()
				if status, body := do(t, method, url); status != want {
					t.Fatalf("%s %s: %d %s; want %d", method, url[:min(len(url), 120)], status, body, want)
				}
			}

			t.Run("Configured", func(t *testing.T) {
				o := taxiiOptions()
				o.MaxMatchIDs, o.MaxMatchValues = 3, 2
				base := serve(o)
				for _, ep := range []string{"/objects/", "/manifest/"} {
					served(t, "GET", base+ep+"?match[id]="+ids(3), 200)
					served(t, "GET", base+ep+"?match[id]="+ids(3)+","+ids(2), 200) // repeats count once
					refused(t, "GET", base+ep+"?match[id]="+ids(4), "match[id]", 3)
					served(t, "GET", base+ep+"?match[type]=indicator,malware", 200)
					refused(t, "GET", base+ep+"?match[type]=indicator,malware,tool", "match[type]", 2)
					refused(t, "GET", base+ep+"?match[version]=first,last,"+times(1), "match[version]", 2)
					refused(t, "GET", base+ep+"?match[spec_version]=2.0,2.1,2.2", "match[spec_version]", 2)
				}
				object := base + "/objects/indicator--00000000-0000-4000-8000-000000000001/"
				refused(t, "GET", object+"?match[version]="+times(3), "match[version]", 2)
				refused(t, "GET", object+"versions/?match[spec_version]=2.0,2.1,2.2", "match[spec_version]", 2)
				refused(t, "DELETE", object+"?match[version]="+times(3), "match[version]", 2)
				served(t, "DELETE", object+"?match[version]="+times(2), 404) // within the cap: no such object
			})

			t.Run("Defaults", func(t *testing.T) {
				base := serve(taxiiOptions())
				served(t, "GET", base+"/objects/?match[id]="+ids(1000), 200)
				refused(t, "GET", base+"/objects/?match[id]="+ids(1001), "match[id]", 1000)
				served(t, "GET", base+"/objects/?match[spec_version]="+times(100), 200)
				refused(t, "GET", base+"/objects/?match[spec_version]="+times(101), "match[spec_version]", 100)
			})
		})
	}
}
