package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/config"
)

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestObservability runs the real serve command: build, feed and authentication
// metrics (feed counts cached for TAXII_FEED_STATS_TTL), one log line per 401, and
// the TAXII query of reads in the log, never a key or a cursor.
func TestObservability(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	b.env["TAXII_METRICS_LISTEN"] = "127.0.0.1:0"
	b.env["TAXII_LOG_LEVEL"] = "info"
	const ttl = 3 * time.Second
	b.env["TAXII_FEED_STATS_TTL"] = ttl.String()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, logs := &syncBuffer{}, &syncBuffer{}
	addrc, done := make(chan [2]string, 2), make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}, &cli{stdin: strings.NewReader(""), stdout: stdout, stderr: logs,
			getenv: b.getenv, listening: func(name, a string) { addrc <- [2]string{name, a} }})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	bound := map[string]string{}
	for len(bound) < 2 {
		select {
		case a := <-addrc:
			bound[a[0]] = a[1]
		case err := <-done:
			t.Fatalf("serve: %v", err)
		}
	}
	base, metricsAddr := "http://"+bound["taxii"], bound["metrics"]
	feed := strings.TrimSpace(b.must("", "feed", "create", "--title", "Indicators", "--alias", "iocs", "--types", "indicator"))
	key := strings.TrimSpace(b.must("", "key", "create", "--name", "sentinel"))
	b.must("", "import", filepath.Join("..", "..", "examples", "indicators.json"))

	objects := base + "/api/v2/inthreat/taxii-server/collections/iocs/objects/"
	wrong := "tk_" + strings.Repeat("x", 40)
	resp, _ := get(t, objects, wrong)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", resp.StatusCode)
	}
	refused := resp.Header.Get("X-Request-Id")
	resp, body := get(t, objects+"?limit=2&added_after=2020-01-01T00:00:00Z&match[type]=indicator", key)
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil || !env.More || env.Next == "" {
		t.Fatalf("first page: %d %s", resp.StatusCode, body)
	}
	read := resp.Header.Get("X-Request-Id")
	resp, _ = get(t, objects+"?limit=2&next="+env.Next, key)
	paged := resp.Header.Get("X-Request-Id")

	scraped := time.Now() // the cache was filled at or after this
	m := scrape(t, metricsAddr)
	route := "/api/v2/inthreat/taxii-server/collections/{collection}/objects"
	for _, want := range []string{
		`taxii_build_info{goversion="go`,
		fmt.Sprintf(`taxii_feed_info{alias="iocs",feed=%q,title="Indicators"} 1`, feed),
		fmt.Sprintf(`taxii_feed_objects{feed=%q} 4`, feed),
		fmt.Sprintf(`taxii_feed_newest_date_added_timestamp_seconds{feed=%q} `, feed),
		fmt.Sprintf(`taxii_http_auth_failures_total{route=%q} 1`, route),
		fmt.Sprintf(`taxii_http_requests_total{method="GET",route=%q,status="401"} 1`, route),
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, `route="unmatched",status="401"`) {
		t.Error("a 401 is labelled unmatched")
	}

	// Counts are cached: a new object shows only after the TTL.
	more := filepath.Join(t.TempDir(), "more.json")
	if err := os.WriteFile(more, []byte(indicatorBundle(3)), 0o600); err != nil {
		t.Fatal(err)
	}
	b.must("", "import", more)
	m = scrape(t, metricsAddr)
	if time.Since(scraped) < ttl && !strings.Contains(m, fmt.Sprintf(`taxii_feed_objects{feed=%q} 4`, feed)) {
		t.Error("feed counts were recomputed within the TTL")
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(scrape(t, metricsAddr), fmt.Sprintf(`taxii_feed_objects{feed=%q} 7`, feed)) {
		if time.Now().After(deadline) {
			t.Fatal("feed counts were not refreshed after the TTL")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The log: one line per request id; the query of reads; no key, no cursor.
	lines := map[string][]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if id, ok := l["request_id"].(string); ok {
			lines[id] = append(lines[id], l)
		}
	}
	if got := lines[refused]; len(got) != 1 || got[0]["level"] != "warn" || got[0]["error_code"] != "unauthorized" ||
		got[0]["route"] != route || !strings.Contains(fmt.Sprint(got[0]["error"]), "no key") && !strings.Contains(fmt.Sprint(got[0]["error"]), "key") {
		t.Errorf("log lines of the 401: %v", got)
	}
	if got := lines[read]; len(got) != 1 || got[0]["added_after"] != "2020-01-01T00:00:00Z" || got[0]["limit"] != "2" ||
		got[0]["match_type"] != "indicator" || got[0]["next_sent"] != nil {
		t.Errorf("log line of the first read: %v", got)
	}
	if got := lines[paged]; len(got) != 1 || got[0]["next_sent"] != true {
		t.Errorf("log line of the next read: %v", got)
	}
	all := logs.String()
	for _, secret := range []string{key, wrong, env.Next} {
		if strings.Contains(all, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// TestConsoleColoursOnlyOnATerminal: the console format writes no ANSI escapes to a
// file or pipe.
func TestConsoleColoursOnlyOnATerminal(t *testing.T) {
	cfg := config.Default()
	cfg.LogFormat = "console"
	var buf bytes.Buffer
	log, err := newLogger(cfg, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Warn("hello")
	if out := buf.String(); !strings.Contains(out, "WARN") || regexp.MustCompile("\x1b\\[").MatchString(out) {
		t.Fatalf("console log to a buffer: %q", out)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatal("a file is a terminal")
	}
}
