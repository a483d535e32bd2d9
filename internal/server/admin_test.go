package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

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
	svc   *admin.Service
	admin string // plaintext keys
	read  string
	logs  *observer.ObservedLogs
}

// adminOpts are small limits, so that tests reach them.
var adminOpts = admin.Options{ListLimit: 2, MaxListLimit: 3, PreviewObjects: 2, CountTimeout: 10 * time.Second, CountMax: 3,
	StatsTTL: time.Minute, RotateGrace: 24 * time.Hour, MaxRotateGrace: 48 * time.Hour, AuditRetention: time.Hour, AuditMaxRows: 100, MaxTemplateLength: 64}

func newAdminServer(t *testing.T, st store.Store, now func() time.Time, proxies ...netip.Prefix) *adminServer {
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
		plain, key, err := auth.Generate(k.name, k.role, nil, now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		*k.plain = plain
	}
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core()))
	s.logs = logs
	s.svc = admin.NewService(st, log, now, adminOpts)
	h, err := admin.NewHandler(s.svc, log, admin.APIOptions{MaxBody: config.Default().AdminMaxBody, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{TAXII: fakeTAXII(), Admin: h, Store: okPinger{}, Log: log, Now: now, TrustedProxies: proxies}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + admin.Prefix
	return s
}

// do sends a JSON request with key (Bearer; "" for none) and decodes the answer into out when given.
func (s *adminServer) do(t *testing.T, key, method, path string, body any, out any) int {
	t.Helper()
	return s.doFrom(t, "", key, method, path, body, out)
}

// doFrom is do with an X-Forwarded-For header when xff is set.
func (s *adminServer) doFrom(t *testing.T, xff, key, method, path string, body any, out any) int {
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
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
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
			// A change in a body a cross-site form could send (text/plain, valid JSON) is refused, with Basic
			// credentials as a browser would replay them: nothing is created.
			req, _ = http.NewRequest("POST", s.url+"/keys", strings.NewReader(`{"name":"evil","role":"admin","source":"="}`))
			req.SetBasicAuth("", s.admin)
			req.Header.Set("Content-Type", "text/plain")
			if resp, err = http.DefaultClient.Do(req); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			keys, err := s.st.ListKeys(context.Background())
			if resp.StatusCode != 400 || err != nil || len(keys) != 2 {
				t.Errorf("text/plain key creation: %d, %d keys (%v); want 400 and nothing stored", resp.StatusCode, len(keys), err)
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
			// The export API's default format, as feed create/update --format --template set it.
			var x struct {
				Format   string `json:"format"`
				Template string `json:"template"`
			}
			if got := s.do(t, s.admin, "PATCH", "/feeds/apt", map[string]any{"format": "custom", "template": "$id $observables"}, &x); got != 200 || x.Format != "custom" || x.Template != "$id $observables" {
				t.Errorf("set format: %d %+v", got, x)
			}
			if got := s.do(t, s.admin, "PATCH", "/feeds/apt", map[string]any{"format": "xml"}, &e); got != 400 {
				t.Errorf("format xml: %d %+v, want 400", got, e)
			}
			if stored, err := s.st.GetFeed(context.Background(), "apt"); err != nil || stored.ExportFormat != "custom" || stored.ExportTemplate != "$id $observables" {
				t.Errorf("stored format %q template %q (%v), want custom kept after the refused change", stored.ExportFormat, stored.ExportTemplate, err)
			}
		})
	}
}

// stixObj is one stored version of a new object of typ.
func stixObj(typ string, n int, extra string) store.Object {
	id := fmt.Sprintf("%s--00000000-0000-4000-8000-%012d", typ, n)
	raw := fmt.Sprintf(`{"type":%q,"spec_version":"2.1","id":%q,"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z"%s}`, typ, id, extra)
	return store.Object{ID: id, Type: typ, SpecVersion: "2.1", Created: "2024-01-01T00:00:00.000Z", Modified: "2024-01-01T00:00:00.000Z", Raw: []byte(raw), Source: "alpha"}
}

type feedStats struct {
	ID      string  `json:"id"`
	Title   string  `json:"title"`
	Objects int64   `json:"objects"`
	Newest  *string `json:"newest_date_added"`
	Preview []struct {
		ID        string          `json:"id"`
		DateAdded string          `json:"date_added"`
		Object    json.RawMessage `json:"object"`
	} `json:"preview"`
}

type feedPage struct {
	Items []feedStats `json:"items"`
	Next  string      `json:"next"`
}

func TestAdminAPIFeedsCountsPreviewAndLiveCount(t *testing.T) {
	for _, named := range storetest.Stores(t) {
		t.Run(named.Name, func(t *testing.T) {
			s := newAdminServer(t, named.New(t), time.Now)
			ctx := context.Background()
			amber := `,"object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]`
			out, err := s.st.AddObjects(ctx, []store.Object{stixObj("indicator", 1, amber), stixObj("indicator", 2, ""),
				stixObj("indicator", 3, amber), stixObj("malware", 4, "")})
			if err != nil {
				t.Fatal(err)
			}
			var f feedStats
			if got := s.do(t, s.admin, "POST", "/feeds", map[string]any{"title": "Amber", "filter": map[string]any{"tlp": "amber"}}, &f); got != 201 {
				t.Fatalf("create: %d", got)
			}
			var p feedPage
			if got := s.do(t, s.admin, "GET", "/feeds?limit=10", nil, &p); got != 200 || len(p.Items) != 2 || p.Next != "" {
				t.Fatalf("list: %d %+v, want the default feed and Amber (limit capped to 3)", got, p)
			}
			def, amb := p.Items[0], p.Items[1]
			if def.ID != feed.DefaultID || def.Objects != 4 || def.Newest == nil || *def.Newest != store.FormatDateAdded(out[3].DateAdded) {
				t.Errorf("default feed in the list: %+v, want 4 objects, newest %s", def, store.FormatDateAdded(out[3].DateAdded))
			}
			if amb.ID != f.ID || amb.Objects != 2 || amb.Newest == nil || *amb.Newest != store.FormatDateAdded(out[2].DateAdded) {
				t.Errorf("amber feed in the list: %+v, want 2 objects", amb)
			}
			// A page of one, then the next from its cursor.
			if got := s.do(t, s.admin, "GET", "/feeds?limit=1", nil, &p); got != 200 || len(p.Items) != 1 || p.Next != feed.DefaultID {
				t.Fatalf("first page of 1: %d %+v", got, p)
			}
			after := p.Next
			p = feedPage{}
			if got := s.do(t, s.admin, "GET", "/feeds?limit=1&after="+after, nil, &p); got != 200 || len(p.Items) != 1 || p.Items[0].ID != f.ID || p.Next != "" {
				t.Fatalf("second page of 1: %d %+v", got, p)
			}
			// The detail previews the first PreviewObjects (2) objects, oldest first.
			var d feedStats
			if got := s.do(t, s.admin, "GET", "/feeds/"+feed.DefaultID, nil, &d); got != 200 || d.Objects != 4 || len(d.Preview) != 2 ||
				d.Preview[0].ID != stixObj("indicator", 1, "").ID || d.Preview[1].ID != stixObj("indicator", 2, "").ID {
				t.Fatalf("detail: %d %+v", got, d)
			}
			if !strings.Contains(string(d.Preview[0].Object), `"object_marking_refs"`) {
				t.Errorf("preview object %s is not the stored object", d.Preview[0].Object)
			}
			// Live count of filters not saved, including one the membership index would serve; capped at CountMax (3).
			for _, c := range []struct {
				filter map[string]any
				want   int64
				capped bool
			}{
				{map[string]any{"tlp": []string{"amber"}}, 2, false},
				{map[string]any{"types": "malware"}, 1, false},
				{map[string]any{"tlp": "amber", "types": []string{"malware"}}, 0, false},
				{map[string]any{}, 3, true},
			} {
				var n struct {
					Objects int64 `json:"objects"`
					Capped  bool  `json:"capped"`
				}
				if got := s.do(t, s.admin, "POST", "/feeds/count", map[string]any{"filter": c.filter}, &n); got != 200 || n.Objects != c.want || n.Capped != c.capped {
					t.Errorf("count %v: %d %+v, want %d capped %t", c.filter, got, n, c.want, c.capped)
				}
			}
			var e apiErr
			if got := s.do(t, s.admin, "POST", "/feeds/count", map[string]any{"filter": map[string]any{"types": "Not A Type"}}, &e); got != 400 || e.Field != "types" {
				t.Errorf("count of a bad filter: %d %+v, want 400 on types", got, e)
			}
			if got := s.do(t, s.admin, "GET", "/feeds/nope", nil, &e); got != 404 || !strings.Contains(e.Error, `no feed "nope"`) {
				t.Errorf("unknown feed: %d %+v", got, e)
			}
		})
	}
}

type keyOut struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	Key    string `json:"key"`
	Source string `json:"source"`
	Feeds  []struct {
		ID    string `json:"id"`
		Alias string `json:"alias"`
	} `json:"feeds"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	PrevUntil  *time.Time `json:"previous_secret_valid_until"`
}

func TestAdminAPIKeys(t *testing.T) {
	for _, named := range storetest.Stores(t) {
		t.Run(named.Name, func(t *testing.T) {
			s := newAdminServer(t, named.New(t), time.Now)
			var f feedStats
			if got := s.do(t, s.admin, "POST", "/feeds", map[string]any{"title": "Ind", "alias": "ind"}, &f); got != 201 {
				t.Fatalf("create feed: %d", got)
			}
			var k keyOut
			if got := s.do(t, s.admin, "POST", "/keys", map[string]any{"name": "sentinel", "role": "admin", "feeds": []string{"ind"}}, &k); got != 201 {
				t.Fatalf("create key: %d", got)
			}
			if !strings.HasPrefix(k.Key, "tk_") || k.Role != "admin" || k.Source != "sentinel" || len(k.Feeds) != 1 || k.Feeds[0].ID != f.ID || k.Feeds[0].Alias != "ind" {
				t.Fatalf("created key: %+v", k)
			}
			// The new key works; the secret is never logged.
			if got := s.do(t, k.Key, "GET", "/sources", nil, nil); got != 200 {
				t.Errorf("the new key on the admin API: %d", got)
			}
			for _, e := range s.logs.All() {
				if b, _ := json.Marshal(e.ContextMap()); strings.Contains(e.Message+string(b), k.Key[len(k.Key)-20:]) {
					t.Errorf("the secret is in a log line: %s %s", e.Message, b)
				}
			}
			var page struct {
				Items []keyOut `json:"items"`
				Next  string   `json:"next"`
			}
			if got := s.do(t, s.admin, "GET", "/keys?limit=5", nil, &page); got != 200 || len(page.Items) != 3 || page.Items[2].Name != "sentinel" {
				t.Fatalf("list: %d %+v", got, page)
			}
			if page.Items[2].Key != "" || page.Items[2].LastUsedAt == nil {
				t.Errorf("listed key: %+v, want no secret and a last use", page.Items[2])
			}
			// The list carries each key's usage (internal/usage figures in the store).
			hour := time.Now().UTC().Truncate(time.Hour)
			if err := s.st.AddUsage(context.Background(), []store.UsageRow{{Hour: hour, KeyID: k.ID, FeedID: f.ID, Requests: 3, Polls: 2, Objects: 40, Bytes: 5000, LastPoll: hour}}); err != nil {
				t.Fatal(err)
			}
			var withUsage struct {
				Items []struct {
					ID      string                                   `json:"id"`
					Last24h struct{ Requests, Objects, Bytes int64 } `json:"last_24h"`
					Last30d struct{ Requests, Objects, Bytes int64 } `json:"last_30d"`
				} `json:"items"`
			}
			if got := s.do(t, s.admin, "GET", "/keys?limit=3", nil, &withUsage); got != 200 || len(withUsage.Items) != 3 {
				t.Fatalf("list with usage: %d %+v", got, withUsage)
			}
			if u := withUsage.Items[2]; u.Last24h.Requests != 3 || u.Last24h.Objects != 40 || u.Last30d.Bytes != 5000 {
				t.Errorf("usage of the key: %+v, want 3 requests, 40 objects, 5000 bytes", u)
			}
			if got := s.do(t, s.admin, "GET", "/keys", nil, &page); got != 200 || len(page.Items) != 2 || page.Next == "" {
				t.Errorf("default limit 2: %+v", page)
			}
			// Two active keys named alike: revoking by name is refused with the candidates.
			var k2 keyOut
			if got := s.do(t, s.admin, "POST", "/keys", map[string]any{"name": "sentinel"}, &k2); got != 201 || k2.Role != "read-only" {
				t.Fatalf("second key: %d %+v", got, k2)
			}
			var amb struct {
				apiErr
				Candidates []struct {
					ID string `json:"id"`
				} `json:"candidates"`
			}
			if got := s.do(t, s.admin, "POST", "/keys/sentinel/revoke", nil, &amb); got != 409 || len(amb.Candidates) != 2 || !strings.Contains(amb.Error, "give the id") {
				t.Fatalf("ambiguous revoke: %d %+v", got, amb)
			}
			var r keyOut
			if got := s.do(t, s.admin, "POST", "/keys/"+k.ID+"/revoke", nil, &r); got != 200 || r.RevokedAt == nil {
				t.Fatalf("revoke by id: %d %+v", got, r)
			}
			if got := s.do(t, k.Key, "GET", "/sources", nil, nil); got != 401 {
				t.Errorf("the revoked key: %d, want 401", got)
			}
			// Now the name is unambiguous among active keys.
			if got := s.do(t, s.admin, "POST", "/keys/sentinel/revoke", nil, &r); got != 200 || r.ID != k2.ID {
				t.Errorf("revoke by name: %d %+v, want %s", got, r, k2.ID)
			}
			var e apiErr
			if got := s.do(t, s.admin, "POST", "/keys", map[string]any{"name": "x", "role": "root"}, &e); got != 400 || e.Field != "role" {
				t.Errorf("bad role: %d %+v", got, e)
			}
			if got := s.do(t, s.admin, "POST", "/keys", map[string]any{"name": "x", "feeds": []string{"nope"}}, &e); got != 400 || e.Field != "feeds" {
				t.Errorf("unknown feed: %d %+v", got, e)
			}
			if got := s.do(t, s.admin, "POST", "/keys", map[string]any{"name": "x", "secret": "mine"}, &e); got != 400 || e.Code != "invalid_input" {
				t.Errorf("unknown field: %d %+v", got, e)
			}
		})
	}
}

func TestAdminAPIRotateKey(t *testing.T) {
	for _, named := range storetest.Stores(t) {
		t.Run(named.Name, func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
			s := newAdminServer(t, named.New(t), clk.now)
			var k keyOut
			if got := s.do(t, s.admin, "POST", "/keys", map[string]any{"name": "ops", "role": "admin", "source": "ops-team"}, &k); got != 201 {
				t.Fatalf("create: %d", got)
			}
			var e apiErr
			if got := s.do(t, s.admin, "POST", "/keys/ops/rotate", map[string]any{"grace": "49h"}, &e); got != 400 || e.Field != "grace" {
				t.Errorf("grace above the maximum: %d %+v", got, e)
			}
			var r keyOut
			if got := s.do(t, s.admin, "POST", "/keys/ops/rotate", map[string]any{"grace": "1h"}, &r); got != 200 {
				t.Fatalf("rotate: %d", got)
			}
			if r.ID != k.ID || r.Key == k.Key || !strings.HasPrefix(r.Key, "tk_") || r.Role != "admin" || r.Source != "ops-team" ||
				r.PrevUntil == nil || !r.PrevUntil.Equal(clk.t.Add(time.Hour)) {
				t.Fatalf("rotated: %+v, want the same id and settings, a new secret, the old valid until %s", r, clk.t.Add(time.Hour))
			}
			for name, key := range map[string]string{"old": k.Key, "new": r.Key} {
				if got := s.do(t, key, "GET", "/sources", nil, nil); got != 200 {
					t.Errorf("%s secret within the grace: %d", name, got)
				}
			}
			clk.advance(time.Hour)
			if got := s.do(t, k.Key, "GET", "/sources", nil, nil); got != 401 {
				t.Errorf("old secret after the grace: %d, want 401", got)
			}
			if got := s.do(t, r.Key, "GET", "/sources", nil, nil); got != 200 {
				t.Errorf("new secret after the grace: %d", got)
			}
			// Without a grace, the configured default (24h).
			var r2 keyOut
			if got := s.do(t, s.admin, "POST", "/keys/"+k.ID+"/rotate", nil, &r2); got != 200 || r2.PrevUntil == nil || !r2.PrevUntil.Equal(clk.t.Add(24*time.Hour)) {
				t.Errorf("rotate with the default grace: %d %+v", got, r2)
			}
			if got := s.do(t, s.admin, "POST", "/keys/nobody/rotate", nil, &e); got != 404 {
				t.Errorf("rotate an unknown key: %d", got)
			}
		})
	}
}

func TestAdminAPIAuditAndSources(t *testing.T) {
	for _, named := range storetest.Stores(t) {
		t.Run(named.Name, func(t *testing.T) {
			s := newAdminServer(t, named.New(t), time.Now, netip.MustParsePrefix("127.0.0.1/32"))
			ctx := context.Background()
			if _, err := s.st.AddObjects(ctx, []store.Object{stixObj("indicator", 1, ""), stixObj("indicator", 2, "")}); err != nil {
				t.Fatal(err)
			}
			var f feedStats
			if got := s.doFrom(t, "198.51.100.7", s.admin, "POST", "/feeds", map[string]any{"title": "A"}, &f); got != 201 {
				t.Fatalf("create feed: %d", got)
			}
			var k keyOut
			if got := s.do(t, s.admin, "POST", "/keys", map[string]any{"name": "k1"}, &k); got != 201 {
				t.Fatalf("create key: %d", got)
			}
			// The CLI goes through the same service, as "cli".
			if _, err := s.svc.RevokeKey(ctx, admin.CLI, "k1"); err != nil {
				t.Fatal(err)
			}
			if got := s.do(t, s.read, "GET", "/audit", nil, nil); got != 403 {
				t.Errorf("reader reads the audit log: %d", got)
			}
			type entry struct {
				ID         int64  `json:"id"`
				Actor      string `json:"actor"`
				ActorKeyID string `json:"actor_key_id"`
				Address    string `json:"address"`
				Action     string `json:"action"`
				Target     string `json:"target"`
				Detail     string `json:"detail"`
			}
			var p struct {
				Items []entry `json:"items"`
				Next  string  `json:"next"`
			}
			if got := s.do(t, s.admin, "GET", "/audit?limit=2", nil, &p); got != 200 || len(p.Items) != 2 || p.Next == "" {
				t.Fatalf("audit page: %d %+v", got, p)
			}
			if e := p.Items[0]; e.Action != "key.revoke" || e.Actor != "cli" || e.Target != k.ID || e.Address != "" {
				t.Errorf("newest entry: %+v, want the CLI's revoke", e)
			}
			if e := p.Items[1]; e.Action != "key.create" || e.Actor != "boss" || e.ActorKeyID == "" || e.Address != "127.0.0.1" || strings.Contains(e.Detail, "tk_") {
				t.Errorf("key.create entry: %+v", e)
			}
			before := p.Next
			p.Items, p.Next = nil, ""
			if got := s.do(t, s.admin, "GET", "/audit?before="+before, nil, &p); got != 200 || len(p.Items) != 1 {
				t.Fatalf("older page: %d %+v", got, p)
			}
			if e := p.Items[0]; e.Action != "feed.create" || e.Target != f.ID || e.Address != "198.51.100.7" {
				t.Errorf("feed.create entry: %+v, want the forwarded client address", e)
			}
			var src struct {
				Items []struct {
					Source  string `json:"source"`
					Objects int    `json:"objects"`
				} `json:"items"`
			}
			if got := s.do(t, s.admin, "GET", "/sources", nil, &src); got != 200 {
				t.Fatalf("sources: %d", got)
			}
			found := false
			for _, it := range src.Items {
				found = found || (it.Source == "alpha" && it.Objects == 2)
			}
			if !found {
				t.Errorf("sources %+v: want alpha with 2 objects", src.Items)
			}
		})
	}
}
