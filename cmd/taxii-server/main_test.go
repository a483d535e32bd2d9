package main

import (
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
	"sync"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/shareddata"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
)

// binary runs the real command line the way a user does, against one store.
type binary struct {
	t   *testing.T
	env map[string]string
}

func (b *binary) getenv(k string) string { return b.env[k] }

func (b *binary) environ() []string {
	var out []string
	for k, v := range b.env {
		out = append(out, k+"="+v)
	}
	return out
}

// run executes one command and returns its stdout, stderr and error.
func (b *binary) run(ctx context.Context, stdin string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(ctx, args, &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, getenv: b.getenv, environ: b.environ})
	return out.String(), errOut.String(), err
}

func (b *binary) must(stdin string, args ...string) string {
	b.t.Helper()
	out, errOut, err := b.run(context.Background(), stdin, args...)
	if err != nil {
		b.t.Fatalf("%v: %v\nstdout: %s\nstderr: %s", args, err, out, errOut)
	}
	return out
}

// serve starts `serve` on a free port and returns its base URL and what it printed;
// the server stops at cleanup, and serve must return nil after SIGTERM-like cancellation.
func (b *binary) serve() (string, *syncBuffer) {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}, &cli{
			stdin: strings.NewReader(""), stdout: out, stderr: io.Discard, getenv: b.getenv,
			listening: func(name, a string) {
				if name == "taxii" {
					addr <- a
				}
			},
		})
	}()
	b.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.t.Errorf("serve returned %v after shutdown", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a, out
	case err := <-done:
		done <- err // the cleanup waits for serve's result too
		b.t.Fatalf("serve stopped before listening: %v", err)
	case <-time.After(30 * time.Second):
		b.t.Fatal("serve did not listen within 30s")
	}
	return "", nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// binaries gives one configured command line per store kind.
func binaries(t *testing.T) map[string]func(t *testing.T) *binary {
	return map[string]func(t *testing.T) *binary{
		"sqlite": func(t *testing.T) *binary {
			return &binary{t: t, env: map[string]string{"TAXII_DATA_DIR": t.TempDir(), "TAXII_LOG_LEVEL": "warn"}}
		},
		"postgres": func(t *testing.T) *binary {
			return &binary{t: t, env: map[string]string{"TAXII_DATABASE_URL": pgtest.NewSchema(t), "TAXII_LOG_LEVEL": "warn"}}
		},
	}
}

func sharedTestdata(t *testing.T, rel string) string {
	t.Helper()
	return shareddata.Dir(t, "testdata", filepath.FromSlash(rel))
}

// indicatorBundle makes a bundle of n valid indicators with distinct ids.
func indicatorBundle(n int) string {
	var objs []string
	for i := 0; i < n; i++ {
		objs = append(objs, fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08d-0000-4000-8000-000000000000",`+
			`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"ip %d",`+
			`"pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, i, i, i%250))
	}
	return `{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000001","objects":[` + strings.Join(objs, ",") + `]}`
}

type envelope struct {
	More    bool              `json:"more"`
	Next    string            `json:"next"`
	Objects []json.RawMessage `json:"objects"`
}

func get(t *testing.T, url, key string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth("anyone", key)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func ids(t *testing.T, objs []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, o := range objs {
		var v struct{ ID string }
		if err := json.Unmarshal(o, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.ID)
	}
	return out
}

// TestOperatorFlow is the README's walk-through end to end, on both stores: bootstrap
// key, feed, read-only key, import, then a Sentinel-like poll by next and by added_after.
func TestOperatorFlow(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			base, out := b.serve()
			if !regexp.MustCompile(`\btk_\S+`).MatchString(out.String()) {
				t.Fatalf("first start printed no admin key:\n%s", out)
			}

			feed := strings.TrimSpace(b.must("", "feed", "create", "--title", "Indicators", "--types", "indicator", "--alias", "iocs"))
			if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(feed) {
				t.Fatalf("feed create printed %q, want a UUIDv4", feed)
			}
			key := strings.TrimSpace(b.must("", "key", "create", "--name", "sentinel", "--role", "read-only", "--feeds", feed))

			dir := t.TempDir()
			file := filepath.Join(dir, "bundle.json")
			if err := os.WriteFile(file, []byte(indicatorBundle(250)), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := b.must("", "import", file); got != "imported 250, unchanged 0, conflicting 0, rejected 0\n" {
				t.Fatalf("import said %q", got)
			}
			if got := b.must(indicatorBundle(250), "import", "-"); got != "imported 0, unchanged 250, conflicting 0, rejected 0\n" {
				t.Fatalf("second import (stdin) said %q", got)
			}

			root := base + "/api/v2/inthreat/taxii-server"
			resp, body := get(t, base+"/taxii2/", key)
			if resp.StatusCode != 200 || !strings.Contains(string(body), "/api/v2/inthreat/taxii-server/") {
				t.Fatalf("discovery: %d %s", resp.StatusCode, body)
			}
			if resp, _ := get(t, base+"/taxii2/", "tk_wrong"); resp.StatusCode != 401 {
				t.Fatalf("wrong key: %d", resp.StatusCode)
			}

			// Follow next.
			var byNext []string
			url := root + "/collections/" + feed + "/objects/?limit=40"
			for pages := 0; ; pages++ {
				resp, body := get(t, url, key)
				if resp.StatusCode != 200 {
					t.Fatalf("page %d: %d %s", pages, resp.StatusCode, body)
				}
				var env envelope
				if err := json.Unmarshal(body, &env); err != nil {
					t.Fatal(err)
				}
				byNext = append(byNext, ids(t, env.Objects)...)
				if !env.More {
					break
				}
				url = root + "/collections/" + feed + "/objects/?limit=40&next=" + env.Next
			}
			// Re-poll from X-TAXII-Date-Added-Last, by alias this time.
			var byAdded []string
			url = root + "/collections/iocs/objects/?limit=40"
			for {
				resp, body := get(t, url, key)
				var env envelope
				if err := json.Unmarshal(body, &env); err != nil {
					t.Fatal(err)
				}
				if len(env.Objects) == 0 {
					break
				}
				byAdded = append(byAdded, ids(t, env.Objects)...)
				url = root + "/collections/iocs/objects/?limit=40&added_after=" + resp.Header.Get("X-TAXII-Date-Added-Last")
			}
			if len(byNext) != 250 || strings.Join(byNext, ",") != strings.Join(byAdded, ",") {
				t.Fatalf("next gave %d objects, added_after %d; sequences equal: %t", len(byNext), len(byAdded),
					strings.Join(byNext, ",") == strings.Join(byAdded, ","))
			}
			seen := map[string]bool{}
			for _, id := range byNext {
				if seen[id] {
					t.Fatalf("%s served twice", id)
				}
				seen[id] = true
			}

			// Revoked keys stop working at once.
			var keyID string
			for _, line := range strings.Split(b.must("", "key", "list"), "\n") {
				if strings.Contains(line, "sentinel") {
					keyID = strings.Fields(line)[0]
				}
			}
			if strings.Contains(b.must("", "key", "list"), key) {
				t.Fatal("key list shows the key itself")
			}
			b.must("", "key", "revoke", keyID)
			if resp, _ := get(t, root+"/collections/", key); resp.StatusCode != 401 {
				t.Fatalf("revoked key: %d", resp.StatusCode)
			}
		})
	}
}

// TestImportRealContent imports the field content in ../shared/testdata/stix: the official
// examples go in whole; STIX 2.0 is refused with that reason; nothing stops the rest.
func TestImportRealContent(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	examples := sharedTestdata(t, "stix/cti-stix2-json-schemas/examples")
	var files []string
	_ = filepath.Walk(examples, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	out := b.must("", append([]string{"import"}, files...)...)
	var imported, unchanged, conflicting, rejected int
	if _, err := fmt.Sscanf(out, "imported %d, unchanged %d, conflicting %d, rejected %d", &imported, &unchanged, &conflicting, &rejected); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	if rejected != 0 || imported == 0 {
		t.Fatalf("official examples: %s", out)
	}

	v20 := sharedTestdata(t, "stix/playbook_viewer/playbook_json")
	p20, _ := filepath.Glob(filepath.Join(v20, "*.json"))
	stdout, stderr, err := b.run(context.Background(), "", append([]string{"import"}, p20[0])...)
	if err == nil || !strings.Contains(stdout, "imported 0,") || !strings.Contains(stderr, "2.0") {
		t.Fatalf("STIX 2.0 import: err=%v\n%s\n%.500s", err, stdout, stderr)
	}

	// Everything else: every file is read to its end, and all counts add up.
	all := sharedTestdata(t, "stix")
	var everything []string
	_ = filepath.Walk(all, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".json") {
			everything = append(everything, p)
		}
		return nil
	})
	stdout, stderr, _ = b.run(context.Background(), "", append([]string{"import"}, everything...)...)
	if _, err := fmt.Sscanf(stdout, "imported %d, unchanged %d, conflicting %d, rejected %d", &imported, &unchanged, &conflicting, &rejected); err != nil {
		t.Fatalf("summary %q: %v\n%s", stdout, err, stderr)
	}
	if imported < 500 || rejected < 3000 {
		t.Fatalf("whole test data: %s", stdout)
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		// Progress lines ("import: N objects, …") come every 5 s, so on a slow machine.
		if line != "" && !strings.HasPrefix(line, "rejected ") && !strings.Contains(line, ".json: ") && !strings.HasPrefix(line, "import: ") {
			t.Errorf("unexpected stderr line %q", line)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	for _, args := range [][]string{
		{"nope"},
		{"feed", "create"},
		{"feed", "create", "--title", "x", "--types", "Not A Type"},
		{"key", "create", "--name", "x", "--role", "root"},
		{"import"},
		{"serve", "--max-page-size", "0"},
	} {
		if _, _, err := b.run(context.Background(), "", args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}

// TestImportReportsEachRejection: a bad object and an unreadable file are each reported
// on stderr with a reason, counted, and do not stop the good objects.
func TestImportReportsEachRejection(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	dir := t.TempDir()
	good := indicator(0, 1)
	bad := strings.Replace(indicator(0, 2), `"pattern":"[`, `"pattern":"(`, 1)
	lines := filepath.Join(dir, "mixed.jsonl")
	garbage := filepath.Join(dir, "garbage.json")
	_ = os.WriteFile(lines, []byte(good+"\n"+bad+"\n"), 0o600)
	_ = os.WriteFile(garbage, []byte("<html>"), 0o600)
	stdout, stderr, err := b.run(context.Background(), "", "import", lines, garbage)
	if err == nil || stdout != "imported 1, unchanged 0, conflicting 0, rejected 2\n" {
		t.Fatalf("err=%v stdout=%q stderr=%s", err, stdout, stderr)
	}
	if !strings.Contains(stderr, "mixed.jsonl: object 2 indicator--00000002-0000-4000-8000-000000000000: /pattern: ") ||
		strings.Count(stderr, "indicator--00000002") != 1 || !strings.Contains(stderr, "garbage.json: ") {
		t.Fatalf("stderr does not name each rejection once:\n%s", stderr)
	}
}

// TestImportHonoursObjectLimits: the configured depth limit reaches the import path.
func TestImportHonoursObjectLimits(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	b.env["TAXII_MAX_JSON_DEPTH"] = "3"
	deep := strings.Replace(indicator(0, 3), `"pattern_type"`, `"x_deep":{"a":{"b":{"c":{}}}},"pattern_type"`, 1)
	stdout, stderr, err := b.run(context.Background(), indicator(0, 4)+"\n"+deep+"\n", "import", "-")
	if err == nil || stdout != "imported 1, unchanged 0, conflicting 0, rejected 1\n" || !strings.Contains(stderr, "<stdin>: object 2 ") {
		t.Fatalf("err=%v stdout=%q stderr=%s", err, stdout, stderr)
	}
}

// TestMigrateThenServeWithoutAutoMigrate: migrate works (twice) on both stores, and a
// server told not to migrate refuses an unmigrated database but serves a migrated one.
func TestMigrateThenServeWithoutAutoMigrate(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			b.env["TAXII_AUTO_MIGRATE"] = "false"
			if _, _, err := b.run(context.Background(), "", "serve", "--listen", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "migrate") {
				t.Fatalf("serve on an empty database without migrating: %v", err)
			}
			b.must("", "migrate")
			b.must("", "migrate")
			base, _ := b.serve()
			if resp, _ := get(t, base+"/taxii2/", "tk_none"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("discovery without a valid key: %d", resp.StatusCode)
			}
		})
	}
}
