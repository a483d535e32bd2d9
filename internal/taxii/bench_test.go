package taxii

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/store"
)

// memStore serves prebuilt rows, so benchmarks measure the API, not a database.
// Methods the read path does not call are left to the nil embedded interface.
type memStore struct {
	store.Store
	key  store.APIKey
	feed store.Feed
	rows []store.Row
}

func newMemStore(tb testing.TB, n, size int) (*memStore, string) {
	tb.Helper()
	plain, k, err := auth.Generate("bench", store.RoleReadOnly, nil, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	k.LastUsedAt = time.Now().Add(time.Hour) // no touches
	m := &memStore{key: k, feed: store.Feed{ID: feedAllID, Title: "bench"}}
	pad := strings.Repeat("x", size)
	for i := range n {
		id := stixID("indicator", i+1)
		m.rows = append(m.rows, store.Row{
			DateAdded: 1_767_225_600_000_000 + int64(i), ID: id, Type: "indicator", SpecVersion: "2.1", Version: created0,
			Raw: fmt.Appendf(nil, `{"type":"indicator","spec_version":"2.1","id":%q,"created":%q,"modified":%q,"pattern":"[file:name = '%s']"}`, id, created0, created0, pad),
		})
	}
	return m, plain
}

func (m *memStore) CursorSecret(context.Context) ([]byte, error) {
	return []byte("0123456789abcdef0123456789abcdef"), nil
}
func (m *memStore) GetKey(context.Context, string) (store.APIKey, error) { return m.key, nil }
func (m *memStore) TouchKey(context.Context, string, time.Time) error    { return nil }
func (m *memStore) GetFeed(context.Context, string) (store.Feed, error)  { return m.feed, nil }
func (m *memStore) ScanObjects(_ context.Context, q store.Query, begin func(store.Page) error, each func(store.Row) error) error {
	after := max(q.After, q.AddedAfter)
	i := 0
	for i < len(m.rows) && m.rows[i].DateAdded <= after {
		i++
	}
	end := min(i+q.Limit, len(m.rows))
	p := store.Page{Count: end - i, More: end < len(m.rows)}
	if p.Count > 0 {
		p.First, p.Last = m.rows[i].DateAdded, m.rows[end-1].DateAdded
	}
	if err := begin(p); err != nil {
		return err
	}
	for _, r := range m.rows[i:end] {
		if err := each(r); err != nil {
			return err
		}
	}
	return nil
}

// discard is a ResponseWriter that keeps nothing, so memory use is the handler's own.
type discard struct {
	h http.Header
	n int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }

func pageRequest(tb testing.TB, plain, path string) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://taxii.test"+rootPathDefault+"/collections/"+feedAllID+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", MediaTypeTAXII)
	req.Header.Set("Authorization", "Bearer "+plain)
	return req
}

func benchPage(b *testing.B, path string) {
	m, plain := newMemStore(b, 1000, 200)
	h, err := NewHandler(withConfigDefaults(Options{}), m, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	req := pageRequest(b, plain, path)
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, req)
	b.SetBytes(int64(w.n))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.h = http.Header{}
		h.ServeHTTP(w, req)
	}
}

// BenchmarkObjectsPage streams a 1000-object envelope: auth, parameters, cursor, rows.
func BenchmarkObjectsPage(b *testing.B) { benchPage(b, "/objects/?limit=1000") }

// BenchmarkManifestPage builds 1000 manifest records.
func BenchmarkManifestPage(b *testing.B) { benchPage(b, "/manifest/?limit=1000") }

func BenchmarkCursorEncode(b *testing.B) {
	c, _ := newCursorCodec([]byte("0123456789abcdef0123456789abcdef"))
	bind := newBinder().str(feedAllID).str("objects").list([]string{"indicator"}).sum()
	b.ReportAllocs()
	for b.Loop() {
		_ = c.encode(1_767_225_600_000_000, bind)
	}
}

func BenchmarkCursorDecode(b *testing.B) {
	c, _ := newCursorCodec([]byte("0123456789abcdef0123456789abcdef"))
	bind := newBinder().str(feedAllID).str("objects").list([]string{"indicator"}).sum()
	tok := c.encode(1_767_225_600_000_000, bind)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.decode(tok, bind); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPageMemoryIsBounded: a page is spooled before it is written, in memory
// up to PageBufferMemory and in a temporary file past it. A page of 1000 large
// objects (4 MB) under a 256 KiB budget must cost about what a page of 10
// costs, and still arrive whole.
func TestPageMemoryIsBounded(t *testing.T) {
	m, plain := newMemStore(t, 1000, 4000)
	const budget = 256 << 10
	h, err := NewHandler(withConfigDefaults(Options{PageBufferMemory: budget}), m, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/objects/", "/manifest/"} {
		measure := func(limit int) (allocs, bytes uint64, body []byte) {
			req := pageRequest(t, plain, fmt.Sprintf("%s?limit=%d", path, limit))
			w := &keep{h: http.Header{}}
			h.ServeHTTP(w, req) // warm up
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			w = &keep{h: http.Header{}, discard: true}
			h.ServeHTTP(w, req)
			runtime.ReadMemStats(&after)
			w = &keep{h: http.Header{}}
			h.ServeHTTP(w, req)
			return after.Mallocs - before.Mallocs, after.TotalAlloc - before.TotalAlloc, w.body
		}
		smallAllocs, smallBytes, _ := measure(10)
		bigAllocs, bigBytes, body := measure(1000)
		t.Logf("%s: 10 rows %d allocs %d B; 1000 rows (%d B written) %d allocs %d B", path, smallAllocs, smallBytes, len(body), bigAllocs, bigBytes)
		if bigAllocs > smallAllocs+40 || bigBytes > smallBytes+budget+128<<10 {
			t.Errorf("%s: memory grows with the page: %d allocs/%d B for 10 rows, %d/%d for 1000", path, smallAllocs, smallBytes, bigAllocs, bigBytes)
		}
		var env struct{ Objects []json.RawMessage }
		if err := json.Unmarshal(body, &env); err != nil || len(env.Objects) != 1000 {
			t.Errorf("%s: the spilled page is not whole: %d objects, %v", path, len(env.Objects), err)
		}
	}
}

// keep is a ResponseWriter that keeps the body, or only counts it.
type keep struct {
	h       http.Header
	body    []byte
	discard bool
}

func (k *keep) Header() http.Header { return k.h }
func (k *keep) WriteHeader(int)     {}
func (k *keep) Write(b []byte) (int, error) {
	if !k.discard {
		k.body = append(k.body, b...)
	}
	return len(b), nil
}
