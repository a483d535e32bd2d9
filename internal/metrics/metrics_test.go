package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
)

// fakeStore answers the few methods the tests call; the embedded nil interface panics on others.
type fakeStore struct {
	store.Store
	getFeedErr error
	scanDelay  time.Duration
}

func (f *fakeStore) GetFeed(context.Context, string) (store.Feed, error) {
	return store.Feed{ID: "f"}, f.getFeedErr
}

func (f *fakeStore) ScanObjects(_ context.Context, _ store.Query, begin func(store.Page) error, each func(store.Row) error) error {
	time.Sleep(f.scanDelay)
	if err := begin(store.Page{Count: 1}); err != nil {
		return err
	}
	return each(store.Row{ID: "indicator--1"})
}

func TestInstrumentStore(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	fs := &fakeStore{}
	st := InstrumentStore(fs, m)

	if _, err := st.GetFeed(context.Background(), "f"); err != nil {
		t.Fatal(err)
	}
	fs.getFeedErr = store.ErrNotFound
	_, _ = st.GetFeed(context.Background(), "missing")
	fs.getFeedErr = errors.New("connection refused")
	_, _ = st.GetFeed(context.Background(), "f")
	if got := testutil.CollectAndCount(m.storeDuration); got != 1 {
		t.Fatalf("%d operation series, want get_feed only", got)
	}
	if n := histogramCount(t, m.storeDuration.WithLabelValues("get_feed")); n != 3 {
		t.Fatalf("get_feed observed %d times, want 3", n)
	}
	if v := testutil.ToFloat64(m.storeErrors.WithLabelValues("get_feed")); v != 1 {
		t.Fatalf("get_feed errors = %v, want 1 (not found is not a failure)", v)
	}

	// A scan is timed to its page summary, not while the rows stream to a slow client.
	fs.scanDelay = 5 * time.Millisecond
	rows := 0
	err := st.ScanObjects(context.Background(), store.Query{Limit: 1},
		func(store.Page) error { return nil },
		func(store.Row) error { rows++; time.Sleep(300 * time.Millisecond); return nil })
	if err != nil || rows != 1 {
		t.Fatalf("scan: %v, %d rows", err, rows)
	}
	h := &dtoHistogram{}
	h.read(t, m.storeDuration.WithLabelValues("scan_objects"))
	if h.count != 1 || h.sum < 0.005 || h.sum > 0.25 {
		t.Fatalf("scan_objects: %d observations summing %vs; want one of about 5ms", h.count, h.sum)
	}
	if InstrumentStore(fs, nil) != store.Store(fs) {
		t.Fatal("nil metrics should leave the store as is")
	}
}

func TestRequestDone(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	end := time.Unix(1_800_000_000, 0)
	m.RequestStarted()
	m.RequestDone(Request{Method: "GET", Route: "/api/collections/{collection}/objects", Status: 200, Duration: time.Second, Bytes: 10, End: end,
		Info: obs.Snapshot{KeyName: "sentinel", FeedID: "f1", Served: 7}})
	m.RequestStarted()
	m.RequestDone(Request{Method: "GET", Route: "/api/collections/{collection}/objects", Status: 404, End: end.Add(time.Hour),
		Info: obs.Snapshot{KeyName: "sentinel", FeedID: "f1"}})
	m.RequestStarted()
	m.RequestDone(Request{Method: "GET", Route: "/api/status/{status}", Status: 200, End: end.Add(2 * time.Hour),
		Info: obs.Snapshot{KeyName: "sentinel", FeedID: "f1"}})
	if v := testutil.ToFloat64(m.lastPoll.WithLabelValues("sentinel", "f1")); v != 1_800_000_000 {
		t.Fatalf("last poll = %v: neither a 404 nor a status read may move it", v)
	}
	if v := testutil.ToFloat64(m.served.WithLabelValues("f1")); v != 7 {
		t.Fatalf("served = %v", v)
	}
	if v := testutil.ToFloat64(m.inFlight); v != 0 {
		t.Fatalf("in flight = %v", v)
	}
	var nilMetrics *Metrics
	nilMetrics.RequestStarted()
	nilMetrics.RequestDone(Request{})
	nilMetrics.RateLimited()
	if MethodLabel("PROPFIND") != "OTHER" || RouteLabel("") != "unmatched" || RouteLabel("/taxii2") != "/taxii2" {
		t.Fatal("labels")
	}
}

func TestPoolCollector(t *testing.T) {
	st := pgtest.New(t)
	if err := st.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewPoolCollector(st.Pool()))
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		got[f.GetName()] = f.GetMetric()[0].GetGauge().GetValue() + f.GetMetric()[0].GetCounter().GetValue()
	}
	for _, name := range []string{
		"taxii_db_pool_max_connections", "taxii_db_pool_connections", "taxii_db_pool_acquired_connections",
		"taxii_db_pool_idle_connections", "taxii_db_pool_constructing_connections", "taxii_db_pool_acquires_total",
		"taxii_db_pool_acquire_seconds_total", "taxii_db_pool_empty_acquires_total", "taxii_db_pool_empty_acquire_wait_seconds_total",
		"taxii_db_pool_canceled_acquires_total", "taxii_db_pool_new_connections_total",
		"taxii_db_pool_max_lifetime_destroys_total", "taxii_db_pool_max_idle_destroys_total",
	} {
		if _, ok := got[name]; !ok {
			t.Errorf("missing %s", name)
		}
	}
	if got["taxii_db_pool_max_connections"] < 1 || got["taxii_db_pool_acquires_total"] < 1 || got["taxii_db_pool_connections"] < 1 {
		t.Fatalf("pool statistics look empty: %v", got)
	}
}

// TestMetricNamesLint runs the Prometheus naming lint over every metric the server registers.
func TestMetricNamesLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.RequestStarted()
	m.RequestDone(Request{Method: "GET", Route: "/r/collections/{collection}/objects", Status: 200, Info: obs.Snapshot{KeyName: "k", FeedID: "f", Served: 1, Imported: 1, Rejected: 1}})
	m.RateLimited()
	m.storeDuration.WithLabelValues("ping").Observe(0.001)
	m.storeErrors.WithLabelValues("ping").Inc()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, Namespace+"_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}
