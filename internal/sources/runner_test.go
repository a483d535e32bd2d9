package sources

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
)

// TestRunnerStoresThroughIngest: a run claims the due source, stores valid
// objects under its name, counts and samples an invalid one without failing,
// records the run and its watermark, and reports it; the source is not due
// again until its interval passes or run-now asks.
func TestRunnerStoresThroughIngest(t *testing.T) {
	const last = "2026-01-01T00:00:02.000000Z"
	obj := func(n int, pattern string) string {
		return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d",`+
			`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":%q,"pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`, n, pattern)
	}
	var mu sync.Mutex
	var addedAfter []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		addedAfter = append(addedAfter, r.URL.Query().Get("added_after"))
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "who?", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
		if r.URL.Query().Get("added_after") == last {
			fmt.Fprint(w, `{"more":false}`)
			return
		}
		w.Header().Set("X-TAXII-Date-Added-First", "2026-01-01T00:00:00.000000Z")
		w.Header().Set("X-TAXII-Date-Added-Last", last)
		// The last is the first's version with other content: a conflict, counted and sampled.
		fmt.Fprintf(w, `{"more":false,"objects":[%s,%s,%s,%s]}`, obj(1, "[ipv4-addr:value = '10.0.0.1']"), obj(2, "[not a pattern"),
			obj(3, "[ipv4-addr:value = '10.0.0.3']"), obj(1, "[ipv4-addr:value = '10.0.0.99']"))
	}))
	defer srv.Close()

	st := sqlitetest.New(t)
	v, err := stix.NewValidator(stix.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	now := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	if _, err := st.CreateUpstream(ctx, store.Upstream{Name: "vendor", URL: srv.URL + "/api/collections/c1/", TAXIIVersion: TAXII21,
		Token: "tok", Interval: time.Hour, NextRun: now}); err != nil {
		t.Fatal(err)
	}
	var reports []Report
	r := &Runner{Store: st, Validator: func() (*stix.Validator, error) { return v, nil }, Owner: "test", Every: time.Second, Lease: time.Minute, Timeout: 5 * time.Second,
		Log: zaptest.NewLogger(t), Observe: func(rep Report) { reports = append(reports, rep) }, Now: func() time.Time { return now }}

	if n := r.RunDue(ctx); n != 1 {
		t.Fatalf("RunDue ran %d sources, want 1", n)
	}
	if len(reports) != 1 || reports[0].Err != nil || reports[0].Stats.Pulled != 4 || reports[0].Stats.Stored != 2 || reports[0].Stats.Rejected != 1 || reports[0].Stats.Conflicting != 1 ||
		reports[0].Lag != now.Sub(time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC)) {
		t.Fatalf("reports %+v", reports)
	}
	u, err := st.GetUpstream(ctx, "vendor")
	if err != nil {
		t.Fatal(err)
	}
	if u.Watermark != last || u.LastError != "" || u.LastCounts != (store.UpstreamCounts{Pulled: 4, Stored: 2, Rejected: 1, Conflicting: 1}) ||
		len(u.Samples) != 2 || !strings.HasPrefix(u.Samples[0], "indicator--00000000-0000-4000-8000-000000000002: ") ||
		!strings.Contains(u.Samples[1], "000000000001: version 2026-01-01T00:00:00.000Z is already stored with other content") || u.LeaseOwner != "" {
		t.Fatalf("recorded %+v", u)
	}
	if srcs, _ := st.ListSources(ctx); len(srcs) != 1 || srcs[0].Source != "vendor" || srcs[0].Objects != 2 {
		t.Fatalf("provenance %+v", srcs)
	}

	if n := r.RunDue(ctx); n != 0 {
		t.Fatalf("ran %d sources again before the interval", n)
	}
	if err := st.RunUpstreamNow(ctx, "vendor"); err != nil {
		t.Fatal(err)
	}
	if n := r.RunDue(ctx); n != 1 {
		t.Fatalf("run-now: ran %d", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(addedAfter) != 2 || addedAfter[0] != "" || addedAfter[1] != last {
		t.Fatalf("added_after of the requests: %q, want the watermark on the second run", addedAfter)
	}
	if u, _ := st.GetUpstream(ctx, "vendor"); u.TotalCounts != (store.UpstreamCounts{Pulled: 4, Stored: 2, Rejected: 1, Conflicting: 1}) || !u.NextRun.Equal(now.Add(time.Hour)) {
		t.Fatalf("after the second run: %+v", u)
	}
}

// A run cut short by the server stopping gives its lease back: the source is
// due at once for another replica, which goes on from the last watermark,
// instead of waiting for the lease (TAXII_SOURCE_LEASE) to lapse.
func TestRunnerReleasesTheLeaseWhenStopped(t *testing.T) {
	requested := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(requested)
		<-r.Context().Done() // an upstream slower than the shutdown
	}))
	defer srv.Close()
	st := sqlitetest.New(t)
	v, err := stix.NewValidator(stix.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	if _, err := st.CreateUpstream(t.Context(), store.Upstream{Name: "slow", URL: srv.URL + "/api/collections/c1/", TAXIIVersion: TAXII21,
		Interval: time.Hour, NextRun: now}); err != nil {
		t.Fatal(err)
	}
	r := &Runner{Store: st, Validator: func() (*stix.Validator, error) { return v, nil }, Owner: "stopping", Every: time.Second, Lease: time.Hour,
		Timeout: time.Minute, Log: zaptest.NewLogger(t), Now: func() time.Time { return now }}
	ctx, stop := context.WithCancel(t.Context())
	go func() {
		<-requested
		stop()
	}()
	r.RunDue(ctx)
	u, err := st.ClaimUpstream(t.Context(), "other", now, time.Hour)
	if err != nil || u.Name != "slow" {
		t.Fatalf("another replica's claim right after the stop = %+v, %v; want the source", u, err)
	}
}
