package taxii

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the responses")

const (
	rootPathDefault = "/api/v2/inthreat/taxii-server"
	feedAllID       = "9a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01"
	feedIndID       = "4f1d7c6e-2b3a-4c5d-8e9f-a0b1c2d3e4f5"
	feedSecretID    = "d3b07384-d113-4ec6-a5e8-6c3c4d1a2b3c"
)

// bundle is what a test needs around a running API.
type bundle struct {
	srv   *httptest.Server
	st    store.Store
	root  string            // srv.URL + API root path, no trailing slash
	keys  map[string]string // plaintext keys by name
	ids   map[string]string // key ids by name
	logs  *observer.ObservedLogs
	feeds map[string]store.Feed
}

// eachStore runs fn against every store implementation.
func eachStore(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Helper()
	for _, s := range storetest.Stores(t) {
		t.Run(s.Name, func(t *testing.T) { fn(t, s.New(t)) })
	}
}

// setup starts the API on st with three feeds and a key per role and scope:
// "all" (every type, writable, alias all-intel), "indicators" (type filter) and
// "secret"; keys admin, reader, writer, limited (indicators only), revoked, nofeeds.
func setup(t *testing.T, st store.Store, opts Options) *bundle {
	t.Helper()
	ctx := context.Background()
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	feeds := map[string]store.Feed{
		"all":        {ID: feedAllID, Title: "All intelligence", Description: "Everything we have", Alias: "all-intel", Writable: true, CreatedAt: created},
		"indicators": {ID: feedIndID, Title: "Indicators", Alias: "indicators", Filter: store.FeedFilter{Types: []string{"indicator"}}, CreatedAt: created.Add(time.Minute)},
		"secret":     {ID: feedSecretID, Title: "Secret", CreatedAt: created.Add(2 * time.Minute)},
	}
	for _, name := range []string{"all", "indicators", "secret"} {
		if err := st.CreateFeed(ctx, feeds[name]); err != nil {
			t.Fatalf("CreateFeed %s: %v", name, err)
		}
	}
	b := &bundle{st: st, keys: map[string]string{}, ids: map[string]string{}, feeds: feeds}
	for _, k := range []struct {
		name  string
		role  store.Role
		feeds []string
	}{
		{"admin", store.RoleAdmin, nil},
		{"reader", store.RoleReadOnly, nil},
		{"writer", store.RoleReadWrite, nil},
		{"limited", store.RoleReadOnly, []string{feedIndID}},
		{"revoked", store.RoleReadOnly, nil},
		{"nofeeds", store.RoleReadOnly, []string{"00000000-0000-4000-8000-000000000000"}},
	} {
		plain, key, err := auth.Generate(k.name, k.role, k.feeds, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateKey(ctx, key); err != nil {
			t.Fatalf("CreateKey %s: %v", k.name, err)
		}
		b.keys[k.name], b.ids[k.name] = plain, key.ID
	}
	if err := st.RevokeKey(ctx, b.ids["revoked"]); err != nil {
		t.Fatal(err)
	}

	core, logs := observer.New(zapcore.DebugLevel)
	b.logs = logs
	log := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core()))
	opts = withConfigDefaults(opts)
	h, err := NewHandler(opts, st, log)
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	b.srv = httptest.NewServer(h)
	t.Cleanup(b.srv.Close)
	b.root = b.srv.URL + strings.TrimSuffix(opts.APIRootPath, "/")
	return b
}

// withConfigDefaults fills the zero fields of o with the configuration's defaults,
// as serve passes them.
func withConfigDefaults(o Options) Options {
	d := config.Default()
	for _, f := range []struct {
		v   *string
		def string
	}{{&o.APIRootPath, d.APIRootPath}, {&o.Title, d.Title}} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		v   *int
		def int
	}{{&o.MaxPageSize, d.MaxPageSize}, {&o.MaxObjectsPerAdd, d.MaxObjectsPerAdd}, {&o.ObjectLimits.MaxObjectSize, d.MaxObjectSize},
		{&o.ObjectLimits.MaxDepth, d.MaxJSONDepth}, {&o.ObjectLimits.MaxProperties, d.MaxJSONProps},
		{&o.MaxMatchIDs, d.MaxMatchIDs}, {&o.MaxMatchValues, d.MaxMatchValues}} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if o.DefaultPageSize == 0 {
		o.DefaultPageSize = min(d.DefaultPageSize, o.MaxPageSize)
	}
	if o.MaxContentLength == 0 {
		o.MaxContentLength = d.MaxContentLength
	}
	if o.StatusTTL == 0 {
		o.StatusTTL = d.StatusTTL
	}
	if o.PageBufferMemory == 0 {
		o.PageBufferMemory = d.PageBufferMemory
	}
	if o.PageWriteTimeout == 0 {
		o.PageWriteTimeout = d.PageWriteTimeout
	}
	if o.MaxRequestsPerKey == 0 {
		o.MaxRequestsPerKey = d.MaxRequestsPerKey
	}
	if o.AddSpoolMemory == 0 {
		o.AddSpoolMemory = d.AddSpoolMemory
	}
	if o.MaxAddBytes == 0 {
		o.MaxAddBytes = max(d.MaxAddBytes, o.MaxContentLength)
	}
	if o.MaxStatusReads == 0 {
		o.MaxStatusReads = d.MaxStatusReads
	}
	if o.StatusBufferMemory == 0 {
		o.StatusBufferMemory = d.StatusBufferMemory
	}
	return o
}

// response is one HTTP exchange, read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// request options: a key name ("" for none), or a raw header as "Name: value".
type reqOpt func(*http.Request)

func withHeader(name, value string) reqOpt {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

func withoutHeader(name string) reqOpt { return func(r *http.Request) { r.Header.Del(name) } }

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// get requests url as key (Basic, user "sentinel"), accepting TAXII 2.1.
func (b *bundle) get(t testing.TB, key, url string, opts ...reqOpt) response {
	t.Helper()
	return b.do(t, http.MethodGet, key, url, opts...)
}

func (b *bundle) do(t testing.TB, method, key, url string, opts ...reqOpt) response {
	t.Helper()
	return b.send(t, method, key, url, nil, append([]reqOpt{withoutHeader("Content-Type")}, opts...)...)
}

// ok fails the test unless the response is 200 with the TAXII content type.
func (r response) ok(t testing.TB) response {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != MediaTypeTAXII {
		t.Fatalf("Content-Type %q", ct)
	}
	return r
}

// taxiiError checks a TAXII error resource with the given status whose
// description contains want, and returns it.
func (r response) taxiiError(t testing.TB, status int, want string) errorResource {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != MediaTypeTAXII {
		t.Fatalf("error Content-Type %q", ct)
	}
	var e errorResource
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if e.Title == "" || e.ErrorID == "" || e.HTTPStatus != fmt.Sprint(status) {
		t.Fatalf("error resource lacks title, error_id or http_status %q: %s", fmt.Sprint(status), r.body)
	}
	if !strings.Contains(e.Description, want) {
		t.Fatalf("error description %q does not contain %q", e.Description, want)
	}
	return e
}

// envelope is a decoded Get Objects or manifest response.
type envelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next"`
	Objects []json.RawMessage `json:"objects"`
}

func (r response) envelope(t testing.TB) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("envelope %q: %v", r.body, err)
	}
	return e
}

type manifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type"`
}

func (r response) manifest(t testing.TB) (bool, string, []manifestRecord) {
	t.Helper()
	var m struct {
		More    bool             `json:"more"`
		Next    string           `json:"next"`
		Objects []manifestRecord `json:"objects"`
	}
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("manifest %q: %v", r.body, err)
	}
	return m.More, m.Next, m.Objects
}

// ids returns the id of every object of an envelope, in order.
func (e envelope) ids(t testing.TB) []string {
	t.Helper()
	out := make([]string, len(e.Objects))
	for i, raw := range e.Objects {
		var o struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		out[i] = o.ID
	}
	return out
}

// stixID makes a readable STIX id: indicator--00000000-0000-4000-8000-000000000007.
func stixID(typ string, n int) string {
	return fmt.Sprintf("%s--00000000-0000-4000-8000-%012d", typ, n)
}

// stixObject builds one version with odd spacing, so re-encoding would show.
func stixObject(id, created, modified string) store.Object {
	typ, _, _ := strings.Cut(id, "--")
	raw := fmt.Sprintf(`{"type": %q, "spec_version":"2.1","id":%q`, typ, id)
	if created != "" {
		raw += fmt.Sprintf(`,"created":%q`, created)
	}
	if modified != "" {
		raw += fmt.Sprintf(`,  "modified":%q`, modified)
	}
	raw += `,"name":"caf\u00e9 \"x\""}`
	return store.Object{ID: id, Type: typ, SpecVersion: "2.1", Created: created, Modified: modified, Raw: []byte(raw)}
}

func (b *bundle) add(t testing.TB, objs ...store.Object) []store.AddOutcome {
	t.Helper()
	out, err := b.st.AddObjects(context.Background(), objs)
	if err != nil {
		t.Fatalf("AddObjects: %v", err)
	}
	return out
}

// date_added values (6 fractional digits) and next cursors differ per run.
var (
	dateAddedRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z`)
	nextRE      = regexp.MustCompile(`"next": "[A-Za-z0-9_-]+"`)
)

// golden compares body, indented and with date_added and next masked, to testdata/name.golden.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		t.Fatalf("golden %s: %v: %s", name, err, body)
	}
	got := dateAddedRE.ReplaceAll(buf.Bytes(), []byte("<date_added>"))
	got = nextRE.ReplaceAll(got, []byte(`"next": "<next>"`))
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from %s:\n%s", name, path, got)
	}
}

func zapString(k, v string) zap.Field { return zap.String(k, v) }

func mustJSON(t testing.TB, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
}
