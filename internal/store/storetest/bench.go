package storetest

import (
	"fmt"
	"testing"

	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// Benchmark measures what an operator feels, in objects/s: the import rate
// (AddObjects in batches of 1000) and the full-feed pull rate (paging the whole
// store with limit 1000, raw bytes read). Every store runs it on the same data:
//
//	go test -run '^$' -bench . ./internal/store/...
func Benchmark(b *testing.B, newStore func(tb testing.TB) store.Store) {
	const batch = 1000
	b.Run("Import", func(b *testing.B) {
		s := newStore(b)
		if err := s.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		n := 0
		for b.Loop() {
			if _, err := s.AddObjects(b.Context(), benchObjects(n, batch)); err != nil {
				b.Fatal(err)
			}
			n += batch
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "objects/s")
	})

	// ReImport adds versions already stored with the same content, as a daily
	// re-import of a whole release does: each is compared by its digest (given,
	// as ingest gives it) and nothing is written.
	b.Run("ReImport", func(b *testing.B) {
		const total = 20_000
		s := newStore(b)
		if err := s.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		var batches [][]store.Object
		for n := 0; n < total; n += batch {
			objs := benchObjects(n, batch)
			for i := range objs {
				d, err := stix.Digest(objs[i].Raw)
				if err != nil {
					b.Fatal(err)
				}
				objs[i].Digest = d
			}
			if _, err := s.AddObjects(b.Context(), objs); err != nil {
				b.Fatal(err)
			}
			batches = append(batches, objs)
		}
		n := 0
		for b.Loop() {
			out, err := s.AddObjects(b.Context(), batches[n/batch%len(batches)])
			if err != nil {
				b.Fatal(err)
			}
			if out[0].Added || out[0].Conflict {
				b.Fatalf("re-added %+v, want unchanged", out[0])
			}
			n += batch
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "objects/s")
	})

	b.Run("PullFeed", func(b *testing.B) {
		const total = 50_000
		s := newStore(b)
		if err := s.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		for n := 0; n < total; n += batch {
			if _, err := s.AddObjects(b.Context(), benchObjects(n, batch)); err != nil {
				b.Fatal(err)
			}
		}
		pulled, bytes := 0, 0
		for b.Loop() {
			q := store.Query{Limit: batch}
			for {
				var page store.Page
				err := s.ScanObjects(b.Context(), q, func(p store.Page) error { page = p; return nil },
					func(r store.Row) error { pulled++; bytes += len(r.Raw); return nil })
				if err != nil {
					b.Fatal(err)
				}
				if !page.More {
					break
				}
				q.After = page.Last
			}
		}
		if pulled%total != 0 || bytes == 0 {
			b.Fatalf("pulled %d objects (%d bytes), want a multiple of %d", pulled, bytes, total)
		}
		b.ReportMetric(float64(pulled)/b.Elapsed().Seconds(), "objects/s")
	})
}

// benchObjects makes n indicators of a realistic size (~600 bytes), ids from first on.
func benchObjects(first, n int) []store.Object {
	objs := make([]store.Object, n)
	for i := range objs {
		id := objectID("indicator", first+i)
		raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2024-01-02T03:04:05.678Z",`+
			`"modified":"2024-01-02T03:04:05.678Z","name":"Malicious IP %d","description":"Observed in a phishing campaign `+
			`targeting finance; blocks recommended at the perimeter.","indicator_types":["malicious-activity"],`+
			`"pattern":"[ipv4-addr:value = '198.51.%d.%d']","pattern_type":"stix","valid_from":"2024-01-02T03:04:05Z",`+
			`"labels":["phishing","finance"],"confidence":80,"created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",`+
			`"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}`,
			id, first+i, (first+i)/256%256, (first+i)%256)
		objs[i] = store.Object{ID: id, Type: "indicator", SpecVersion: "2.1",
			Created: "2024-01-02T03:04:05.678Z", Modified: "2024-01-02T03:04:05.678Z", Raw: []byte(raw)}
	}
	return objs
}
