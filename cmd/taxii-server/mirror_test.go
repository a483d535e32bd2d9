package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// startServe runs `serve` until ctx ends, without waiting for it at cleanup:
// cancelling ctx is the test's kill. It returns the base URL and the channel
// serve's result arrives on.
func startServe(t *testing.T, b *binary, ctx context.Context) (string, chan error) {
	t.Helper()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}, &cli{
			stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: b.getenv,
			listening: func(name, a string) {
				if name == "taxii" {
					addr <- a
				}
			},
		})
	}()
	select {
	case a := <-addr:
		return "http://" + a, done
	case err := <-done:
		t.Fatalf("serve stopped before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not listen within 30s")
	}
	return "", nil
}

// openStore opens b's store the way a command does.
func (b *binary) openStore() store.Store {
	b.t.Helper()
	st, _, _, _, err := commandStore(context.Background(), "test", nil, &cli{stdout: io.Discard, stderr: io.Discard, getenv: b.getenv}, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(st.Close)
	return st
}

// versions lists every stored version as "id@version", in date_added order.
func versions(t *testing.T, st store.Store) []string {
	t.Helper()
	var out []string
	q := store.Query{Versions: store.VersionMatch{All: true}, Limit: 1000, NoRaw: true}
	for {
		var page store.Page
		err := st.ScanObjects(t.Context(), q, func(p store.Page) error { page = p; return nil }, func(r store.Row) error {
			out = append(out, r.ID+"@"+r.Version)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !page.More {
			return out
		}
		q.After = page.Last
	}
}

// mirrorBatch is n indicators from first, at version modified, as an envelope.
func mirrorBatch(first, n int, modified string) []byte {
	var objs []string
	for i := first; i < first+n; i++ {
		objs = append(objs, fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08d-0000-4000-8000-000000000000",`+
			`"created":"2026-01-01T00:00:00.000Z","modified":%q,"name":"ip %d",`+
			`"pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, i, modified, i, i%250))
	}
	return []byte(`{"objects":[` + strings.Join(objs, ",") + `]}`)
}

// TestMirrorOfAnUpstreamSurvivesAKilledPuller: one taxii-server is the
// upstream, fed over TAXII by a writer; a second mirrors it as a source. The
// mirror is stopped in the middle of its pull (its context cancelled: the
// running page's transaction rolls back and the lease is given back) while the
// writer goes on; restarted, it goes on from the last committed watermark and
// ends with exactly the upstream's versions, none stored twice.
func TestMirrorOfAnUpstreamSurvivesAKilledPuller(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			// The upstream answers 20 objects a page, 10 pages a second: the pull
			// takes long enough to be killed in its middle, and meets 429s.
			up := &binary{t: t, env: map[string]string{"TAXII_DATA_DIR": t.TempDir(), "TAXII_LOG_LEVEL": "warn",
				"TAXII_DEFAULT_PAGE_SIZE": "20", "TAXII_RATE_LIMIT": "10", "TAXII_RATE_LIMIT_BURST": "5"}}
			upBase, _ := up.serve()
			feed := strings.TrimSpace(up.must("", "feed", "create", "--title", "All", "--writable"))
			wkey := strings.TrimSpace(up.must("", "key", "create", "--name", "producer", "--role", "read-write"))
			rkey := strings.TrimSpace(up.must("", "key", "create", "--name", "mirror", "--role", "read-only"))
			collection := upBase + "/api/v2/inthreat/taxii-server/collections/" + feed + "/"
			post := func(body []byte) {
				t.Helper()
				req, _ := http.NewRequest(http.MethodPost, collection+"objects/", bytes.NewReader(body))
				req.SetBasicAuth("producer", wkey)
				req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
				req.Header.Set("Accept", "application/taxii+json;version=2.1")
				for {
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusTooManyRequests {
						time.Sleep(200 * time.Millisecond)
						req.Body = io.NopCloser(bytes.NewReader(body))
						continue
					}
					if resp.StatusCode != http.StatusAccepted {
						t.Errorf("post: %d", resp.StatusCode)
					}
					return
				}
			}
			for i := range 10 {
				post(mirrorBatch(i*40, 40, "2026-01-01T00:00:00.000Z"))
			}

			mirror := newBinary(t)
			mirror.env["TAXII_SOURCE_POLL_INTERVAL"] = "100ms"
			mirror.env["TAXII_SOURCE_HTTP_TIMEOUT"] = "1s"
			mirror.env["TAXII_SOURCE_LEASE"] = "2s"
			tokenFile := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(tokenFile, []byte(rkey+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			mirror.must("", "source", "add", "--name", "upstream-a", "--url", collection, "--token-file", tokenFile, "--interval", "1s")
			mst := mirror.openStore()
			count := func() int {
				srcs, err := mst.ListSources(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range srcs {
					if s.Source == "upstream-a" {
						return s.Objects
					}
				}
				return 0
			}

			ctx, kill := context.WithCancel(context.Background())
			_, done := startServe(t, mirror, ctx)
			deadline := time.Now().Add(30 * time.Second)
			for count() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			kill()
			<-done
			killedAt := count()
			if killedAt == 0 || killedAt >= 400 {
				t.Fatalf("the mirror held %d of 400 objects when killed: not in the middle of its pull", killedAt)
			}
			// Stopped, it gave its lease back and left the source due at once.
			if u, err := mst.GetUpstream(t.Context(), "upstream-a"); err != nil || u.LeaseOwner != "" || !u.RunNow || u.Watermark == "" {
				t.Fatalf("after the stop: lease %q, run now %v, watermark %q, %v; want the lease given back, the source due and a watermark committed",
					u.LeaseOwner, u.RunNow, u.Watermark, err)
			}

			// The writer goes on: new objects, and new versions of pulled ones.
			post(mirrorBatch(400, 40, "2026-01-01T00:00:00.000Z"))
			post(mirrorBatch(0, 20, "2026-03-01T00:00:00.000Z"))

			mirror.serve()
			want := versions(t, up.openStore())
			if len(want) != 460 {
				t.Fatalf("upstream holds %d versions, want 460", len(want))
			}
			slices.Sort(want)
			var got []string
			for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				got = versions(t, mst)
				slices.Sort(got)
				if slices.Equal(got, want) {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("mirror holds %d versions, upstream %d; killed at %d objects", len(got), len(want), killedAt)
			}
			if len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Fatal("a version is stored twice")
			}
			list := mirror.must("", "source", "list")
			if !strings.Contains(list, "upstream-a") || strings.Contains(list, rkey) {
				t.Fatalf("source list:\n%s", list)
			}
			t.Logf("killed at %d of 400 objects; source list:\n%s", killedAt, list)
		})
	}
}
