package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageFlushedAtShutdown runs the real serve command with a flush interval
// longer than the test: a poll is counted only by the flush at shutdown, and the
// next server's admin API shows it.
func TestUsageFlushedAtShutdown(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	b.env["TAXII_USAGE_FLUSH_INTERVAL"] = "1h"
	feed := strings.TrimSpace(b.must("", "feed", "create", "--title", "Indicators", "--alias", "iocs", "--types", "indicator"))
	key := strings.TrimSpace(b.must("", "key", "create", "--name", "sentinel"))
	adminKey := strings.TrimSpace(b.must("", "key", "create", "--name", "ops", "--role", "admin"))
	b.must("", "import", filepath.Join("..", "..", "examples", "indicators.json"))

	ctx, cancel := context.WithCancel(context.Background())
	addr, done := make(chan string, 2), make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}, &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
			getenv: b.getenv, listening: func(name, a string) { addr <- a }})
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	if resp, body := get(t, base+"/api/v2/inthreat/taxii-server/collections/iocs/objects/?limit=2", key); resp.StatusCode != http.StatusOK {
		t.Fatalf("poll: %d %s", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after shutdown: %v", err)
	}

	base, _ = b.serve()
	resp, body := get(t, base+"/admin/api/v1/usage/keys", adminKey)
	var usage struct {
		Items []struct {
			Name    string
			Last24h struct{ Polls, Objects int64 } `json:"last_24h"`
			Feeds   []struct{ Feed struct{ ID string } }
		}
	}
	if err := json.Unmarshal(body, &usage); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("usage/keys: %d %v %s", resp.StatusCode, err, body)
	}
	for _, k := range usage.Items {
		if k.Name == "sentinel" {
			if k.Last24h.Polls != 1 || k.Last24h.Objects != 2 || len(k.Feeds) != 1 || k.Feeds[0].Feed.ID != feed {
				t.Fatalf("the poller's usage after a restart: %+v", k)
			}
			return
		}
	}
	t.Fatalf("no usage for the poller: %s", body)
}
