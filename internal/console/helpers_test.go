package console_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/console"
	"github.com/inthreat/taxii-server/internal/feed"
	"github.com/inthreat/taxii-server/internal/ingest"
	"github.com/inthreat/taxii-server/internal/server"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
	"github.com/inthreat/taxii-server/internal/taxii"
	"github.com/inthreat/taxii-server/internal/usage"
)

// indicatorID is the one object the test store starts with.
const indicatorID = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"

// env is the assembled server with the console mounted, on the embedded store.
type env struct {
	srv   *httptest.Server
	st    store.Store
	admin string // plaintext admin key
	// reader is a read-only key, refused by the console.
	reader string
	logs   *observer.ObservedLogs
	// tally counts usage as serve's does; Flush it to see requests on the usage page.
	tally *usage.Recorder
}

type options struct {
	loginAttempts int
	proxies       []netip.Prefix
	storeLimits   store.Limits
}

// setup starts server.New with the real TAXII API and the console, as serve does,
// with the default feed, an indicator, an admin key and a read-only key.
func setup(t *testing.T, o options) *env {
	t.Helper()
	ctx := context.Background()
	st := sqlitetest.NewWithLimits(t, o.storeLimits)
	if err := feed.EnsureDefault(ctx, st); err != nil {
		t.Fatal(err)
	}
	e := &env{st: st}
	for _, k := range []struct {
		name string
		role store.Role
		dst  *string
	}{{"console-admin", store.RoleAdmin, &e.admin}, {"reader", store.RoleReadOnly, &e.reader}} {
		plain, key, err := auth.Generate(k.name, k.role, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		*k.dst = plain
	}
	raw := `{"type":"indicator","spec_version":"2.1","id":"` + indicatorID + `","created":"2026-01-02T03:04:05.000Z","modified":"2026-01-02T03:04:05.000Z","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2026-01-02T03:04:05Z","labels":["malicious-activity"]}`
	v, err := stix.NewValidator(stix.Options{Limits: limits()})
	if err != nil {
		t.Fatal(err)
	}
	addRaw(t, st, v, raw)

	core, logs := observer.New(zapcore.DebugLevel)
	e.logs = logs
	log := zap.New(core)
	d := config.Default()
	opts := taxii.OptionsFrom(d)
	opts.ObjectLimits = limits()
	api, err := taxii.NewHandler(opts, st, log)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := console.SessionSecret(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	attempts := o.loginAttempts
	if attempts == 0 {
		attempts = d.ConsoleLoginAttempts
	}
	ao := admin.OptionsFrom(d)
	ao.Imports.Limits = limits()
	svc := admin.NewService(st, log.Named("admin"), nil, ao)
	c, err := console.New(console.Options{
		Admin: svc, Log: log.Named("console"), Secret: secret, SessionTTL: d.ConsoleSessionTTL,
		APIRootPath: d.APIRootPath, LoginAllowed: server.AddressLimiter(attempts, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.tally, err = usage.New(st, usage.Options{MaxEntries: d.UsageMaxEntries, FlushEvery: d.UsageFlushInterval, Retention: d.UsageRetention, FinalFlushTimeout: d.ShutdownTimeout}, log.Named("usage"))
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(server.New(server.Options{TAXII: api, Store: st, Log: log, Console: c, Usage: e.tally, TrustedProxies: o.proxies}))
	t.Cleanup(e.srv.Close)
	return e
}

func limits() stix.Limits {
	d := config.Default()
	return stix.Limits{MaxObjectSize: d.MaxObjectSize, MaxDepth: d.MaxJSONDepth, MaxProperties: d.MaxJSONProps}
}

// addRaw stores objects through ingest, as every write path does (observables indexed).
func addRaw(t *testing.T, st store.Store, v *stix.Validator, raws ...string) {
	t.Helper()
	in, err := ingest.New(st, v, ingest.Options{Source: "seed"})
	if err != nil {
		t.Fatal(err)
	}
	var items []ingest.Item
	for _, raw := range raws {
		items = append(items, ingest.Item{Raw: []byte(raw)})
	}
	outs, err := in.Ingest(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		if o.Result != ingest.Added {
			t.Fatalf("test object %s not added: %s", o.ID, o.Reason)
		}
	}
}

// client is a browser-like HTTP client: a cookie jar, no redirects followed.
type client struct {
	t  *testing.T
	e  *env
	hc *http.Client
}

func (e *env) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, bytes.NewBufferString(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.do(req)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the form token of a page.
func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return m[1]
}

// login logs c in with key and returns the token of the page it lands on.
func (c *client) login(key string) string {
	c.t.Helper()
	_, body := c.get("/console/login")
	resp, _ := c.post("/console/login", url.Values{"csrf": {csrf(c.t, body)}, "key": {key}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/feeds" {
		c.t.Fatalf("login: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, body = c.get("/console/feeds")
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("feeds after login: %s", resp.Status)
	}
	return csrf(c.t, body)
}
