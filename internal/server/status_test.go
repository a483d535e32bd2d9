package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
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
	"github.com/inthreat/taxii-server/internal/store/storetest"
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

// statusJSON is the status resource of spec 4.3.1 as encoding/json writes it
// from a struct, members in the spec's order and empty lists omitted: what Get
// Status answered when it decoded whole statuses, and must still answer.
func statusJSON(tb testing.TB, st store.Status) []byte {
	type details struct {
		ID      string `json:"id"`
		Version string `json:"version"`
		Message string `json:"message,omitempty"`
	}
	list := func(in []store.StatusObject) []details {
		var out []details
		for _, o := range in {
			out = append(out, details(o))
		}
		return out
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		ID               string    `json:"id"`
		Status           string    `json:"status"`
		RequestTimestamp string    `json:"request_timestamp"`
		TotalCount       int       `json:"total_count"`
		SuccessCount     int       `json:"success_count"`
		Successes        []details `json:"successes,omitempty"`
		FailureCount     int       `json:"failure_count"`
		Failures         []details `json:"failures,omitempty"`
		PendingCount     int       `json:"pending_count"`
		Pendings         []details `json:"pendings,omitempty"`
	}{st.ID, st.Status, st.RequestTimestamp.UTC().Format(store.DateAddedLayout), st.TotalCount,
		st.SuccessCount, list(st.Successes), st.FailureCount, list(st.Failures), st.PendingCount, list(st.Pendings)})
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// slowClient is an HTTP client whose connections take little at a time, so a
// server writing a body of megabytes to it stays blocked until it is read.
func slowClient() *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		DisableCompression: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(16 << 10)
			}
			return c, err
		},
	}}
}

// A status of 40,000 entries is served whole, byte for byte the status
// resource of what was stored, to clients that read it slowly, on both stores.
// TAXII_STATUS_BUFFER_MEMORY bounds what the bodies in flight take: with 1 MiB,
// six such bodies on their way to clients that have stopped reading cost the
// heap a few MiB, not their 23 MB (the rest is in temporary files). And those
// clients hold no status-read turn: with two turns, all six got their headers.
func TestLargeStatusIsServedWholeWithinItsBudget(t *testing.T) {
	const (
		entries = 40_000
		readers = 6
		id      = "2d8f4e6a-1b3c-4d5e-8f70-00000000b16b"
		budget  = 1 << 20
	)
	for _, named := range storetest.Stores(t) {
		t.Run(named.Name, func(t *testing.T) {
			st := named.New(t)
			o := taxiiOptions()
			o.StatusBufferMemory, o.MaxStatusReads = budget, 2
			srv, key := statusServer(t, st, o)
			stored := bigStatus(id, entries, time.Now())
			if err := st.CreateStatus(t.Context(), stored); err != nil {
				t.Fatal(err)
			}
			want := statusJSON(t, stored)

			var body bytes.Buffer
			if resp, _ := getStatus(t, srv, key, id, &body); resp == nil || resp.StatusCode != 200 || !bytes.Equal(body.Bytes(), want) {
				t.Fatalf("Get Status: %v, %d bytes, want the %d bytes of what was stored", resp, body.Len(), len(want))
			}

			runtime.GC()
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			client := slowClient()
			defer client.CloseIdleConnections()
			resps := make(chan *http.Response, readers)
			for range readers {
				go func() {
					// Canceled when the test ends: a read still waiting then gives up.
					req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+apiRoot+"/status/"+id+"/", nil)
					req.Header.Set("Authorization", "Bearer "+key)
					resp, err := client.Do(req)
					if err != nil {
						t.Error(err)
						resp = nil
					}
					resps <- resp
				}()
			}
			var paused []*http.Response
			timeout := time.After(30 * time.Second)
			for range readers {
				select {
				case resp := <-resps:
					if resp == nil {
						t.FailNow()
					}
					defer resp.Body.Close()
					paused = append(paused, resp)
				case <-timeout:
					t.Fatalf("%d of %d readers got their headers: the others wait for a turn held by a client that is not reading", len(paused), readers)
				}
			}
			runtime.GC()
			runtime.GC()
			var during runtime.MemStats
			runtime.ReadMemStats(&during)
			grown := int64(during.HeapAlloc) - int64(before.HeapAlloc)
			t.Logf("%d bodies of %d bytes in flight: heap grown by %d bytes", readers, len(want), grown)
			if grown > budget+4<<20 {
				t.Errorf("%d bodies of %d bytes in flight grow the heap by %d bytes, want at most the %d of the status buffer budget and a little", readers, len(want), grown, budget)
			}
			// All read at once: read one after another, the last would wait on
			// the others longer than a slow machine's PageWriteTimeout allows.
			var wg sync.WaitGroup
			for i, resp := range paused {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, err := io.ReadAll(resp.Body)
					if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, want) {
						t.Errorf("reader %d: %s, %d bytes, %v; want the %d bytes of what was stored", i, resp.Status, len(got), err, len(want))
					}
				}()
			}
			wg.Wait()
		})
	}
}

// blockingStatuses holds every ScanStatus until release is closed, counting
// the reads that reached it.
type blockingStatuses struct {
	store.Store
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStatuses) ScanStatus(ctx context.Context, id string, now time.Time, begin func(store.Status) error, each func(store.StatusList, store.StatusObject) error) error {
	b.entered <- struct{}{}
	<-b.release
	return b.Store.ScanStatus(ctx, id, now, begin, each)
}

// TAXII_MAX_STATUS_READS is enforced: with two turns, a third read waits,
// without reaching the store, until one of the two is done; then it is
// served.
func TestStatusReadsWaitForATurn(t *testing.T) {
	const id = "2d8f4e6a-1b3c-4d5e-8f70-00000000b16b"
	st := &blockingStatuses{Store: sqlitetest.New(t), entered: make(chan struct{}, 3), release: make(chan struct{})}
	var once sync.Once
	unblock := func() { once.Do(func() { close(st.release) }) }
	o := taxiiOptions()
	o.MaxStatusReads = 2
	srv, key := statusServer(t, st, o)
	t.Cleanup(unblock) // before the server's Close, which waits for its handlers
	stored := bigStatus(id, 10, time.Now())
	if err := st.CreateStatus(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
	bodies := make(chan []byte, 3)
	for range 3 {
		go func() {
			var b bytes.Buffer
			if resp, _ := getStatus(t, srv, key, id, &b); resp == nil || resp.StatusCode != 200 {
				t.Errorf("status read: %v %s", resp, b.Bytes())
			}
			bodies <- b.Bytes()
		}()
	}
	for range 2 {
		select {
		case <-st.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("two reads did not reach the store")
		}
	}
	select {
	case <-st.entered:
		t.Fatal("a third read reached the store while two held the turns")
	case <-time.After(300 * time.Millisecond):
	}
	unblock()
	select {
	case <-st.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the third read never got a turn")
	}
	want := statusJSON(t, stored)
	for range 3 {
		if b := <-bodies; !bytes.Equal(b, want) {
			t.Errorf("read\n%s\nwant\n%s", b, want)
		}
	}
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
