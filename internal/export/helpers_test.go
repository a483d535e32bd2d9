package export_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/admit"
	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/export"
	"github.com/inthreat/taxii-server/internal/metrics"
	"github.com/inthreat/taxii-server/internal/server"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
	"github.com/inthreat/taxii-server/internal/taxii"
)

const (
	feedAll = "9a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01" // every type, writable
	feedInd = "4f1d7c6e-2b3a-4c5d-8e9f-a0b1c2d3e4f5" // indicators only
	feedSec = "d3b07384-d113-4ec6-a5e8-6c3c4d1a2b3c" // a feed the limited key cannot read
)

// fixture is the assembled server (server.New with the TAXII API and the export routes) on one store.
type fixture struct {
	srv    *httptest.Server
	st     store.Store
	api    string // srv.URL + the export prefix
	taxii  string // srv.URL + the TAXII API root, no trailing slash
	keys   map[string]string
	reg    *prometheus.Registry
	config config.Config
	ahead  atomic.Int64 // how far the export API's clock runs ahead of the wall clock (ns)
}

func eachStore(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Helper()
	for _, s := range storetest.Stores(t) {
		t.Run(s.Name, func(t *testing.T) { fn(t, s.New(t)) })
	}
}

// setup starts the server on st; change adjusts the configuration first.
func setup(t testing.TB, st store.Store, change func(*config.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	if change != nil {
		change(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []store.Feed{
		{ID: feedAll, Title: "All", Alias: "all", Writable: true},
		{ID: feedInd, Title: "Indicators", Alias: "indicators", Filter: store.FeedFilter{Types: []string{"indicator"}}},
		{ID: feedSec, Title: "Secret"},
	} {
		if err := st.CreateFeed(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{st: st, keys: map[string]string{}, reg: prometheus.NewRegistry(), config: cfg}
	for _, k := range []struct {
		name  string
		role  store.Role
		feeds []string
	}{{"writer", store.RoleReadWrite, nil}, {"reader", store.RoleReadOnly, nil}, {"limited", store.RoleReadOnly, []string{feedInd}}} {
		plain, key, err := auth.Generate(k.name, k.role, k.feeds, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		f.keys[k.name] = plain
	}
	log := zaptest.NewLogger(t)
	m := metrics.New(f.reg)
	perKey := admit.NewPerKey(cfg.MaxRequestsPerKey) // shared by both APIs, as serve does
	opts := taxii.OptionsFrom(cfg)
	opts.PerKey = perKey
	api, err := taxii.NewHandler(opts, st, log)
	if err != nil {
		t.Fatal(err)
	}
	eo := export.OptionsFrom(cfg)
	eo.PerKey, eo.Metrics = perKey, m
	eo.Now = func() time.Time { return time.Now().Add(time.Duration(f.ahead.Load())) }
	rs, err := export.Routes(eo, st, log)
	if err != nil {
		t.Fatal(err)
	}
	var routes []server.Route
	for _, r := range rs {
		routes = append(routes, server.Route(r))
	}
	// The connection cap as server.Serve sets it up (TAXII_MAX_CONNECTIONS).
	f.srv = httptest.NewUnstartedServer(server.New(server.Options{TAXII: api, Routes: routes, Store: st, Log: log, Metrics: m}))
	conns := admit.NewConns(cfg.MaxConnections)
	f.srv.Listener = conns.Listener(f.srv.Listener)
	f.srv.Config.ConnContext = conns.ConnContext
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	f.api = f.srv.URL + export.PrefixOf(cfg.APIRootPath)
	f.taxii = f.srv.URL + strings.TrimSuffix(cfg.APIRootPath, "/")
	return f
}

type response struct {
	status int
	header http.Header
	body   []byte
	close  bool // the server closes the connection after it
}

// get requests url with the key as Bearer ("" for none); extra headers as name, value pairs.
func (f *fixture) get(t testing.TB, key, url string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+f.keys[key])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
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
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// post adds objects through TAXII Add Objects on the writable feed, as a client would.
func (f *fixture) post(t testing.TB, objs ...string) {
	t.Helper()
	body := `{"objects":[` + strings.Join(objs, ",") + `]}`
	req, err := http.NewRequest(http.MethodPost, f.taxii+"/collections/"+feedAll+"/objects/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.keys["writer"])
	req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || !bytes.Contains(b, []byte(`"failure_count":0`)) {
		t.Errorf("add objects: %d %s", resp.StatusCode, b)
	}
}

// ok checks a 200 and returns the response.
func (r response) ok(t testing.TB) response {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	return r
}

// apiError checks a JSON error of the export API with status and a message containing want.
func (r response) apiError(t testing.TB, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var e struct {
		Message string `json:"message"`
		Code    string `json:"code"`
		ErrorID string `json:"error_id"`
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Code == "" || e.ErrorID == "" {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	if !strings.Contains(e.Message, want) {
		t.Fatalf("message %q does not contain %q", e.Message, want)
	}
}

type itemsPage struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"next_cursor"`
}

func (r response) items(t testing.TB) itemsPage {
	t.Helper()
	var p itemsPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("items %s: %v", r.body, err)
	}
	return p
}

func ids(p itemsPage) []string {
	out := make([]string, len(p.Items))
	for i, it := range p.Items {
		out[i], _ = it["id"].(string)
	}
	return out
}

func cursorOf(ts string) string { return base64.StdEncoding.EncodeToString([]byte(ts)) }

// indicator is an indicator's JSON; extra adds members (`,"revoked":true`).
func indicator(n int, pattern, patternType, extra string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d",`+
		`"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"ind %d",`+
		`"pattern":%q,"pattern_type":%q,"valid_from":"2024-01-01T00:00:00Z"%s}`, n, n, pattern, patternType, extra)
}

func indicatorID(n int) string { return fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n) }

func malware(n int) string {
	return fmt.Sprintf(`{"type":"malware","spec_version":"2.1","id":"malware--00000000-0000-4000-8000-%012d",`+
		`"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"mal %d","is_family":false}`, n, n)
}
