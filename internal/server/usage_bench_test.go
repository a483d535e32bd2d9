package server

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/taxii"
	"github.com/inthreat/taxii-server/internal/usage"
)

// pageStore serves prebuilt rows from memory, so the benchmark measures the
// request path, not a database. Methods the read path does not call are left
// to the nil embedded interface.
type pageStore struct {
	store.Store
	key  store.APIKey
	rows []store.Row
}

func (m *pageStore) CursorSecret(context.Context) ([]byte, error) {
	return []byte("0123456789abcdef0123456789abcdef"), nil
}
func (m *pageStore) GetKey(context.Context, string) (store.APIKey, error) { return m.key, nil }
func (m *pageStore) TouchKey(context.Context, string, time.Time) error    { return nil }
func (m *pageStore) GetFeed(context.Context, string) (store.Feed, error) {
	return store.Feed{ID: feedA, Title: "bench"}, nil
}
func (m *pageStore) ScanObjects(_ context.Context, q store.Query, begin func(store.Page) error, each func(store.Row) error) error {
	rows := m.rows[:min(q.Limit, len(m.rows))]
	p := store.Page{Count: len(rows), First: rows[0].DateAdded, Last: rows[len(rows)-1].DateAdded, More: len(rows) < len(m.rows)}
	if err := begin(p); err != nil {
		return err
	}
	for _, r := range rows {
		if err := each(r); err != nil {
			return err
		}
	}
	return nil
}

// sink is a ResponseWriter that keeps nothing.
type sink struct{ h http.Header }

func (s *sink) Header() http.Header         { return s.h }
func (s *sink) WriteHeader(int)             {}
func (s *sink) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkObjectsPageUsage serves a TAXII objects page through New, without
// and with usage recording: the difference is what usage costs a poll (a map
// update under a mutex; the database is written by the background flusher).
func BenchmarkObjectsPageUsage(b *testing.B) {
	plain, k, err := auth.Generate("bench", store.RoleReadOnly, nil, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	k.LastUsedAt = time.Now().Add(time.Hour) // no touches
	m := &pageStore{key: k}
	for i := range 1000 {
		id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i)
		m.rows = append(m.rows, store.Row{DateAdded: 1_767_225_600_000_000 + int64(i), ID: id, Type: "indicator", SpecVersion: "2.1",
			Version: "2026-01-01T00:00:00.000Z", Raw: fmt.Appendf(nil, `{"type":"indicator","spec_version":"2.1","id":%q,"pattern":"[file:name = 'x']"}`, id)})
	}
	api, err := taxii.NewHandler(taxiiOptions(), m, nil)
	if err != nil {
		b.Fatal(err)
	}
	d := config.Default()
	rec, err := usage.New(m, usage.Options{MaxEntries: d.UsageMaxEntries, FlushEvery: d.UsageFlushInterval, Retention: d.UsageRetention, FinalFlushTimeout: time.Second}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, limit := range []int{10, 1000} {
		for _, c := range []struct {
			name string
			rec  *usage.Recorder
		}{{"without", nil}, {"with", rec}} {
			b.Run(fmt.Sprintf("limit=%d/%s", limit, c.name), func(b *testing.B) {
				h := New(Options{TAXII: api, Store: okPinger{}, Usage: c.rec})
				req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://taxii.test%s/collections/%s/objects/?limit=%d", apiRoot, feedA, limit), nil)
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Accept", taxii.MediaTypeTAXII)
				req.Header.Set("Authorization", "Bearer "+plain)
				b.ReportAllocs()
				for b.Loop() {
					h.ServeHTTP(&sink{h: http.Header{}}, req)
				}
			})
		}
	}
	if rec.Entries() == 0 {
		b.Fatal("the recorder counted nothing")
	}
}
