package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/inthreat/taxii-server/internal/metrics"

	"github.com/inthreat/taxii-server/internal/taxii"
)

type fixture struct {
	srv  *httptest.Server
	reg  *prometheus.Registry
	logs *observer.ObservedLogs
}

func setup(t *testing.T, o Options) *fixture {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	reg := prometheus.NewRegistry()
	if o.TAXII == nil {
		o.TAXII = fakeTAXII()
	}
	if o.Store == nil {
		o.Store = okPinger{}
	}
	o.Log = zap.New(core)
	o.Metrics = metrics.New(reg)
	f := &fixture{reg: reg, logs: logs}
	if o.MetricsHandler != nil {
		o.MetricsHandler = metrics.Handler(reg)
	}
	f.srv = httptest.NewServer(New(o))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(t *testing.T, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestMetricsNamesAndLabels(t *testing.T) {
	f := setup(t, Options{MetricsHandler: http.NotFoundHandler()}) // replaced by the registry's handler
	before := time.Now()
	f.do(t, "GET", "/api/root/collections/feed-1/objects/?limit=5&added_after=x", nil)
	f.do(t, "GET", "/api/root/collections/feed-1/objects/", nil)
	f.do(t, "POST", "/api/root/collections/feed-1/objects/", nil)
	f.do(t, "GET", "/no/such/path/4c1d", nil)
	f.do(t, "BREW", "/api/root/collections/feed-1/objects/", nil)
	f.do(t, "GET", "/healthz", nil)

	route := "/api/root/collections/{collection}/objects"
	counts := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"taxii_http_requests_total", map[string]string{"method": "GET", "route": route, "status": "200"}, 2},
		{"taxii_http_requests_total", map[string]string{"method": "POST", "route": route, "status": "202"}, 1},
		{"taxii_http_requests_total", map[string]string{"method": "GET", "route": "unmatched", "status": "404"}, 1},
		{"taxii_http_requests_total", map[string]string{"method": "OTHER", "status": "405"}, 1},
		{"taxii_http_requests_total", map[string]string{"method": "GET", "route": "/healthz", "status": "200"}, 1},
		{"taxii_http_request_duration_seconds", map[string]string{"method": "GET", "route": route}, 2},
		{"taxii_http_requests_in_flight", nil, 0},
		{"taxii_objects_served_total", map[string]string{"feed": "feed-1"}, 6},
		{"taxii_objects_imported_total", map[string]string{"feed": "feed-1"}, 2},
		{"taxii_objects_rejected_total", map[string]string{"feed": "feed-1"}, 1},
	}
	for _, c := range counts {
		got, ok := metricValue(t, f.reg, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if v, ok := metricValue(t, f.reg, "taxii_http_response_bytes_total", map[string]string{"method": "GET", "route": route}); !ok || v != 2*float64(len(`{"objects":[{},{},{}]}`)) {
		t.Errorf("response bytes = %v", v)
	}
	poll, ok := metricValue(t, f.reg, "taxii_feed_last_poll_timestamp_seconds", map[string]string{"key": "sentinel", "feed": "feed-1"})
	if !ok || poll < float64(before.Unix()) || poll > float64(time.Now().Unix()+1) {
		t.Errorf("last poll of sentinel on feed-1 = %v (found %v), want about now", poll, ok)
	}
	if _, ok := metricValue(t, f.reg, "taxii_feed_last_poll_timestamp_seconds", map[string]string{"key": "writer"}); ok {
		t.Error("a POST counted as a poll")
	}

	// The exposition: served by the registry, with runtime metrics, and no raw URL in any label.
	resp, body := f.do(t, "GET", "/metrics", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"go_goroutines", "taxii_http_requests_total{", "taxii_objects_served_total{feed=\"feed-1\"}"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, leak := range []string{"4c1d", "added_after", "/no/such"} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics labels contain the raw URL part %q", leak)
		}
	}
}

func TestMetricsOffTheMainListenerByDefault(t *testing.T) {
	f := setup(t, Options{})
	if resp, _ := f.do(t, "GET", "/metrics", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the main listener without TAXII_METRICS_ON_MAIN: %s", resp.Status)
	}
	reg := prometheus.NewRegistry()
	metrics.New(reg)
	ms := httptest.NewServer(MetricsHandler(metrics.Handler(reg)))
	defer ms.Close()
	for path, want := range map[string]int{"/metrics": 200, "/healthz": 200, "/taxii2/": 404} {
		resp, err := http.Get(ms.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("metrics listener %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestRequestLog(t *testing.T) {
	f := setup(t, Options{})
	secret := "tk_0123456789abcdef0123456789abcdef_c2VjcmV0LXBhcnQtb2YtdGhlLWtleS0xMjM0NTY3ODk"
	resp, _ := f.do(t, "GET", "/api/root/collections/feed-1/objects/", map[string]string{
		"Authorization": "Bearer " + secret,
		"X-Request-Id":  "from-the-client", // not a trusted proxy: ignored
		"User-Agent":    "sentinel-test",
	})
	id := resp.Header.Get("X-Request-Id")
	if id == "" || id == "from-the-client" {
		t.Fatalf("X-Request-Id = %q: want a fresh id, never the untrusted client's", id)
	}
	entries := f.logs.FilterMessage("request").All()
	if len(entries) != 1 {
		t.Fatalf("%d request log lines, want 1", len(entries))
	}
	e := entries[0]
	fields := e.ContextMap()
	want := map[string]any{
		"request_id": id, "method": "GET", "route": "/api/root/collections/{collection}/objects",
		"path": "/api/root/collections/feed-1/objects/", "status": int64(200), "bytes": int64(len(`{"objects":[{},{},{}]}`)),
		"client": "127.0.0.1", "key_name": "sentinel", "feed_id": "feed-1", "objects_served": int64(3), "user_agent": "sentinel-test",
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("log field %s = %#v, want %#v", k, fields[k], v)
		}
	}
	if _, ok := fields["duration"].(time.Duration); !ok || e.Level != zapcore.InfoLevel {
		t.Errorf("duration %#v, level %s", fields["duration"], e.Level)
	}
	if line, _ := json.Marshal(fields); strings.Contains(string(line), "c2VjcmV0") {
		t.Fatal("the API key reached the log")
	}

	f.do(t, "GET", "/healthz", nil)
	if hz := f.logs.FilterMessage("request").FilterField(zap.String("route", "/healthz")).All(); len(hz) != 1 || hz[0].Level != zapcore.DebugLevel {
		t.Errorf("health probes must log at debug: %+v", hz)
	}
}

func TestRequestIDFromTrustedProxy(t *testing.T) {
	f := setup(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	resp, _ := f.do(t, "GET", "/healthz", map[string]string{"X-Request-Id": "lb-42"})
	if got := resp.Header.Get("X-Request-Id"); got != "lb-42" {
		t.Errorf("trusted proxy's request id: got %q", got)
	}
	resp, _ = f.do(t, "GET", "/healthz", map[string]string{"X-Request-Id": "bad id\twith spaces"})
	if got := resp.Header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \t") {
		t.Errorf("malformed request id echoed: %q", got)
	}
}

func TestPanicBecomesTAXIIError(t *testing.T) {
	f := setup(t, Options{})
	resp, body := f.do(t, "GET", "/panic/", nil)
	if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != taxii.MediaTypeTAXII {
		t.Fatalf("panic: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	var e struct {
		ErrorID string `json:"error_id"`
		Details struct {
			RequestID string `json:"request_id"`
		} `json:"details"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.ErrorID == "" || e.Details.RequestID != resp.Header.Get("X-Request-Id") {
		t.Fatalf("error body %s does not name the request id %s", body, resp.Header.Get("X-Request-Id"))
	}
	if n := f.logs.FilterMessage("panic serving request").Len(); n != 1 {
		t.Fatalf("panic logged %d times", n)
	}
	if v, _ := metricValue(t, f.reg, "taxii_http_requests_total", map[string]string{"status": "500"}); v != 1 {
		t.Fatalf("panic not counted as a 500")
	}
}
