package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/feed"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
)

// adminServer is the assembled server with the admin API on st, and an admin
// and a reader key.
type adminServer struct {
	url   string
	st    store.Store
	admin string // plaintext keys
	read  string
}

func newAdminServer(t *testing.T, st store.Store, now func() time.Time) *adminServer {
	t.Helper()
	ctx := context.Background()
	if err := feed.EnsureDefault(ctx, st); err != nil {
		t.Fatal(err)
	}
	s := &adminServer{st: st}
	for _, k := range []struct {
		plain *string
		name  string
		role  store.Role
	}{{&s.admin, "boss", store.RoleAdmin}, {&s.read, "reader", store.RoleReadOnly}} {
		plain, key, err := auth.Generate(k.name, k.role, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		*k.plain = plain
	}
	cfg := config.Default()
	log := zaptest.NewLogger(t)
	svc := admin.NewService(st, log, now, admin.Options{})
	h, err := admin.NewHandler(svc, log, admin.APIOptions{MaxBody: cfg.AdminMaxBody, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{TAXII: fakeTAXII(), Admin: h, Store: okPinger{}, Log: log}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + admin.Prefix
	return s
}

// do sends a JSON request with key (Bearer; "" for none) and decodes the answer into out when given.
func (s *adminServer) do(t *testing.T, key, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

type apiErr struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	Field string `json:"field"`
}

func TestAdminAPIAuth(t *testing.T) {
	for _, named := range storetest.Stores(t) {
		t.Run(named.Name, func(t *testing.T) {
			s := newAdminServer(t, named.New(t), time.Now)
			var e apiErr
			if got := s.do(t, "", "GET", "/feeds", nil, &e); got != 401 || e.Code != "unauthorized" || e.Error == "" {
				t.Errorf("no key: %d %+v, want 401 unauthorized", got, e)
			}
			if got := s.do(t, s.read, "GET", "/feeds", nil, &e); got != 403 || e.Code != "forbidden" {
				t.Errorf("reader key: %d %+v, want 403 forbidden", got, e)
			}
			// Basic authentication with the key as password works as on TAXII.
			req, _ := http.NewRequest("GET", s.url+"/feeds", nil)
			req.SetBasicAuth("anyone", s.admin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("Basic admin: %d, want 200", resp.StatusCode)
			}
			if got := s.do(t, s.admin, "GET", "/nothing-here", nil, &e); got != 404 || e.Code != "not_found" {
				t.Errorf("unknown path: %d %+v, want 404 not_found", got, e)
			}
		})
	}
}

func TestAdminAPIFeedRules(t *testing.T) {
	for _, named := range storetest.Stores(t) {
		t.Run(named.Name, func(t *testing.T) {
			s := newAdminServer(t, named.New(t), time.Now)
			var e apiErr
			if got := s.do(t, s.admin, "DELETE", "/feeds/"+feed.DefaultID, nil, &e); got != 409 || !strings.Contains(e.Error, "default feed") {
				t.Errorf("delete default feed: %d %+v, want 409 naming the default feed", got, e)
			}
			if got := s.do(t, s.admin, "POST", "/feeds", map[string]any{"title": "x", "filter": map[string]any{"tlp": []string{"purple"}}}, &e); got != 400 || e.Field != "tlp" {
				t.Errorf("bad tlp: %d %+v, want 400 on tlp", got, e)
			}
			var f struct {
				ID     string         `json:"id"`
				Filter map[string]any `json:"filter"`
			}
			if got := s.do(t, s.admin, "POST", "/feeds", map[string]any{"title": "APT", "alias": "apt", "filter": map[string]any{"types": []string{"indicator"}, "tlp": "amber,red"}}, &f); got != 201 || f.ID == "" {
				t.Fatalf("create: %d %+v", got, f)
			}
			stored, err := s.st.GetFeed(context.Background(), "apt")
			if err != nil || stored.ID != f.ID || len(stored.Filter.TLP) != 2 {
				t.Fatalf("stored feed %+v, %v", stored, err)
			}
			var g struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			}
			if got := s.do(t, s.admin, "PATCH", "/feeds/apt", map[string]any{"title": "APT 2"}, &g); got != 200 || g.ID != f.ID || g.Title != "APT 2" {
				t.Errorf("update: %d %+v, want the same id %s", got, g, f.ID)
			}
		})
	}
}
