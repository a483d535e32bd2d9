package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/sqlite"
	"github.com/inthreat/taxii-server/internal/store/storetest"
)

// A feed whose build was cut short (the process creating it stopped) is
// finished by serve when it starts: its objects, 503 until then, are served.
func TestServeFinishesFeedBuilds(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	if got := b.must(indicatorBundle(400), "import", "-"); got != "imported 400, unchanged 0, conflicting 0, rejected 0\n" {
		t.Fatalf("import: %q", got)
	}
	key := strings.TrimSpace(b.must("", "key", "create", "--name", "sentinel", "--role", "read-only"))

	// The cut-short build, by a store that takes one version a step.
	const feedID = "0b0e0f00-0000-4000-8000-0000000000d1"
	st, err := sqlite.OpenWithLimits(context.Background(), filepath.Join(b.env["TAXII_DATA_DIR"], "taxii.db"), zaptest.NewLogger(t), store.Limits{FeedBuildStep: 1, FeedBuildAtOnce: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	storetest.InterruptedBuild(t, st, store.Feed{ID: feedID, Title: "unmarked", Filter: store.FeedFilter{TLP: []store.TLP{store.TLPNone}}})
	st.Close()
	if out := b.must("", "feed", "show", feedID); !regexp.MustCompile(`(?m)^building:\s+yes`).MatchString(out) {
		t.Errorf("feed show of the feed being built:\n%s\nwant it said building", out)
	}

	url, _ := b.serve()
	objects := url + "/api/v2/inthreat/taxii-server/collections/" + feedID + "/objects/?limit=1000"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body := get(t, objects, key)
		if resp.StatusCode == http.StatusOK {
			if out := b.must("", "feed", "show", feedID); !regexp.MustCompile(`(?m)^building:\s+no$`).MatchString(out) {
				t.Errorf("feed show once built:\n%s\nwant it said not building", out)
			}
			var env envelope
			if err := json.Unmarshal(body, &env); err != nil || len(env.Objects) != 400 {
				t.Fatalf("the finished feed: %d objects (%v); want the 400 imported", len(env.Objects), err)
			}
			return
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("objects of the feed being built: %d %s; want 503 until serve has finished the build, then 200", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
