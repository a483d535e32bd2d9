package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// bigStatus is the status of an Add Objects request of n objects: all but one
// in a hundred added, the others refused with a message that needs escaping.
func bigStatus(id string, n int, now time.Time) store.Status {
	st := store.Status{ID: id, FeedID: feedA, KeyID: "writer", Status: "complete", RequestTimestamp: now.Add(-time.Minute),
		TotalCount: n, ExpiresAt: now.Add(time.Hour)}
	for i := range n {
		o := store.StatusObject{ID: fmt.Sprintf("indicator--%08x-0000-4000-8000-%012d", i, i), Version: "2026-01-01T00:00:00.000Z"}
		if i%100 == 99 {
			o.Message = fmt.Sprintf("invalid \"pattern\" <%d>: line\n\tcafé \u2028", i)
			st.Failures = append(st.Failures, o)
			continue
		}
		st.Successes = append(st.Successes, o)
	}
	st.SuccessCount, st.FailureCount = len(st.Successes), len(st.Failures)
	return st
}

// statusServer is New around the real TAXII API on st, with feed A and a
// read-only key; it returns the server and the key's credential.
func statusServer(tb testing.TB, st store.Store, o taxii.Options) (*httptest.Server, string) {
	tb.Helper()
	ctx := tb.Context()
	if err := st.CreateFeed(ctx, store.Feed{ID: feedA, Title: "A", Writable: true, CreatedAt: time.Now()}); err != nil {
		tb.Fatal(err)
	}
	plain, key, err := auth.Generate("reader", store.RoleReadOnly, nil, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.CreateKey(ctx, key); err != nil {
		tb.Fatal(err)
	}
	api, err := taxii.NewHandler(o, st, nil)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{TAXII: api, Store: okPinger{}}))
	tb.Cleanup(srv.Close)
	return srv, plain
}

// getStatus reads a status resource and returns the response and its body.
func getStatus(tb testing.TB, srv *httptest.Server, key, id string, body io.Writer) (*http.Response, int64) {
	req, err := http.NewRequest(http.MethodGet, srv.URL+apiRoot+"/status/"+id+"/", nil)
	if err != nil {
		tb.Error(err)
		return nil, 0
	}
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Error(err)
		return nil, 0
	}
	defer resp.Body.Close()
	n, err := io.Copy(body, resp.Body)
	if err != nil {
		tb.Error(err)
	}
	return resp, n
}

// heapPeak samples the bytes of heap objects until stop is called, which
// returns the highest figure seen.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// resetRSSPeak resets this process's VmHWM to its current RSS (Linux); false
// when that is not possible.
func resetRSSPeak() bool { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil }

func rssPeakKB(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		tb.Fatal("no VmHWM in /proc/self/status")
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb
}

// BenchmarkStatusReadsPeakMemory: 20 clients read the status of a 100,000-object
// request at once, through New on each store. It reports the peak of the heap
// (sampled every 200µs) and of the process's RSS during the reads, above what
// they were before. Run: go test -run '^$' -bench StatusReadsPeakMemory -benchtime 1x ./internal/server
func BenchmarkStatusReadsPeakMemory(b *testing.B) {
	const (
		entries = 100_000
		readers = 20
		id      = "2d8f4e6a-1b3c-4d5e-8f70-00000000b16b"
	)
	for _, named := range []struct {
		name string
		open func(testing.TB) store.Store
	}{
		{"sqlite", func(tb testing.TB) store.Store { return sqlitetest.New(tb) }},
		{"postgres", func(tb testing.TB) store.Store { return pgtest.New(tb) }},
	} {
		b.Run(named.name, func(b *testing.B) {
			st := named.open(b)
			srv, key := statusServer(b, st, taxiiOptions())
			if err := st.CreateStatus(b.Context(), bigStatus(id, entries, time.Now())); err != nil {
				b.Fatal(err)
			}
			_, size := getStatus(b, srv, key, id, io.Discard) // warm up
			for b.Loop() {
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				rss := resetRSSPeak()
				rssBefore := rssPeakKB(b)
				stop := heapPeak()
				var wg sync.WaitGroup
				for range readers {
					wg.Go(func() {
						if resp, n := getStatus(b, srv, key, id, io.Discard); resp == nil || resp.StatusCode != 200 || n != size {
							b.Errorf("status read: %v, %d bytes, want %d", resp, n, size)
						}
					})
				}
				wg.Wait()
				peak := stop()
				b.ReportMetric(float64(peak-min(peak, before.HeapAlloc))/(1<<20), "MiB-heap-peak")
				if rss {
					b.ReportMetric(float64(rssPeakKB(b)-rssBefore)/1024, "MiB-rss-peak")
				}
				b.ReportMetric(float64(size)/(1<<20), "MiB-body")
			}
		})
	}
}
