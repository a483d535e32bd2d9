package export_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/observables"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
)

// benchSize is the number of indicators of the feed the blocklist and lookup benchmarks
// read: 100,000, or BENCH_LIST_N (BENCH_LIST_N=1000000 for the README's figure).
func benchSize(tb testing.TB) int {
	if v := os.Getenv("BENCH_LIST_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1<<24 {
			tb.Fatalf("BENCH_LIST_N=%q: want a count up to %d", v, 1<<24)
		}
		return n
	}
	return 100_000
}

// BenchmarkBlocklist serves the ipv4 list of a feed of benchSize indicators (one address
// each) through the assembled server; it reports entries/s and the peak heap growth
// seen while the list streams, to show the server's memory does not grow with the list.
func BenchmarkBlocklist(b *testing.B) {
	benchIndicators := benchSize(b)
	for _, s := range []struct {
		name string
		new  func(testing.TB) store.Store
	}{
		{"sqlite", func(tb testing.TB) store.Store { return sqlitetest.New(tb) }},
		{"postgres", func(tb testing.TB) store.Store { return pgtest.New(tb) }},
	} {
		b.Run(s.name, func(b *testing.B) {
			st := s.new(b)
			fillIndicators(b, st, benchIndicators)
			settle(b, st)
			f := setup(b, st, nil)
			url := f.api + "/collections/" + feedAll + "/lists/ipv4.txt"
			var peak uint64
			b.ResetTimer()
			for b.Loop() {
				var before runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				stop := make(chan struct{})
				sampled := make(chan uint64)
				go func() {
					var max uint64
					var m runtime.MemStats
					for {
						select {
						case <-stop:
							sampled <- max
							return
						case <-time.After(20 * time.Millisecond):
							runtime.ReadMemStats(&m)
							if m.HeapInuse > before.HeapInuse && m.HeapInuse-before.HeapInuse > max {
								max = m.HeapInuse - before.HeapInuse
							}
						}
					}
				}()
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Authorization", basic(f.keys["reader"]))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				close(stop)
				peak = max(peak, <-sampled)
				if resp.StatusCode != http.StatusOK || n < int64(benchIndicators)*8 {
					b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
				}
			}
			b.ReportMetric(float64(benchIndicators)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			b.StopTimer()
			// Where the time goes: the summary behind the ETag, then the batches.
			ctx, now := context.Background(), time.Now().UnixMicro()
			start := time.Now()
			if _, err := st.ListState(ctx, store.FeedFilter{}, "ipv4", now); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds()), "state-ms")
			start = time.Now()
			for after := ""; ; {
				got, err := st.ListEntries(ctx, store.FeedFilter{}, "ipv4", after, now, f.config.ListBatch)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) < f.config.ListBatch {
					break
				}
				after = got[len(got)-1]
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds()), "entries-ms")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// settle gives Postgres what autovacuum gives a live database after a bulk load:
// statistics, and the visibility map that lets the list scans stay in the index.
func settle(tb testing.TB, st store.Store) {
	if pg, ok := st.(*postgres.Store); ok {
		if _, err := pg.Pool().Exec(context.Background(), "VACUUM ANALYZE observables"); err != nil {
			tb.Fatal(err)
		}
		if err := pg.Analyze(context.Background()); err != nil {
			tb.Fatal(err)
		}
	}
}

// fillIndicators stores n indicators, one IPv4 address each, in batches, as import does.
func fillIndicators(tb testing.TB, st store.Store, n int) {
	tb.Helper()
	const batch = 5000
	for first := 0; first < n; first += batch {
		objs := make([]store.Object, 0, batch)
		for i := first; i < min(n, first+batch); i++ {
			raw := []byte(indicator(i, fmt.Sprintf("[ipv4-addr:value = '10.%d.%d.%d']", i>>16&255, i>>8&255, i&255), "stix", ""))
			objs = append(objs, store.Object{ID: indicatorID(i), Type: "indicator", SpecVersion: "2.1",
				Created: "2024-01-01T00:00:00.000Z", Modified: "2024-01-01T00:00:00.000Z", Raw: raw, Observables: observables.Of(raw)})
		}
		if _, err := st.AddObjects(context.Background(), objs); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkIndicatorContext looks one address up among benchSize indicators through the
// assembled server (authentication, feeds of the key, the observables index).
func BenchmarkIndicatorContext(b *testing.B) {
	benchIndicators := benchSize(b)
	for _, s := range []struct {
		name string
		new  func(testing.TB) store.Store
	}{
		{"sqlite", func(tb testing.TB) store.Store { return sqlitetest.New(tb) }},
		{"postgres", func(tb testing.TB) store.Store { return pgtest.New(tb) }},
	} {
		b.Run(s.name, func(b *testing.B) {
			st := s.new(b)
			fillIndicators(b, st, benchIndicators)
			settle(b, st)
			f := setup(b, st, nil)
			last := benchIndicators - 1 // the newest indicator
			value := fmt.Sprintf("10.%d.%d.%d", last>>16&255, last>>8&255, last&255)
			url := f.api + "/indicators/context?type=ipv4-addr&value=" + value
			for b.Loop() {
				r := f.get(b, "reader", url)
				if r.status != http.StatusOK || !strings.Contains(string(r.body), value+`'`) {
					b.Fatalf("%d %s", r.status, r.body)
				}
			}
		})
	}
}
