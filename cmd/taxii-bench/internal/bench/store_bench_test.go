package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/ingest"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// Store-level and in-process benchmarks of the hot paths the load benchmark
// exercises through a real server: adding objects, scanning pages, serving pages,
// and the import pipeline. Profile them with -cpuprofile; run with -bench . -benchtime.

var benchStores = []struct {
	name string
	open func(testing.TB) store.Store
}{
	{"sqlite", func(tb testing.TB) store.Store { return sqlitetest.New(tb) }},
	{"postgres", openPostgres},
}

// openPostgres gives a benchmark a migrated store in a database of its own
// (dropped at cleanup), so that the CPU of its backends can be told apart.
func openPostgres(tb testing.TB) store.Store {
	tb.Helper()
	ctx := context.Background()
	d, err := newPostgresDeployment(ctx, "", pgtest.URL())
	if err != nil {
		tb.Fatalf("benchmarks need a Postgres (TAXII_TEST_DATABASE_URL): %v", err)
	}
	tb.Cleanup(func() {
		if err := d.close(); err != nil {
			tb.Error(err)
		}
	})
	st, err := postgres.Open(ctx, d.pgURL, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	dbURLs.Store(st, d)
	return st
}

var dbURLs sync.Map // *postgres.Store -> *deployment

// cpuMeterFor measures this process and, on Postgres, the store's backends.
func cpuMeterFor(tb testing.TB, st store.Store) *cpuMeter {
	tb.Helper()
	m := &cpuMeter{server: -1}
	if d, ok := dbURLs.Load(st); ok {
		m = newCPUMeter(context.Background(), -1, d.(*deployment))
		tb.Cleanup(m.close)
	}
	return m
}

// reportCPU adds the CPU per object of this process (go-µs/object, less
// exclude: preparation outside the timer) and of the Postgres backends
// (db-µs/object) since s0.
func reportCPU(b *testing.B, m *cpuMeter, s0 cpuSample, objects int, exclude time.Duration) {
	u := m.since(context.Background(), s0, objects)
	u.client -= exclude
	if u.clientOK && objects > 0 {
		b.ReportMetric(float64(u.client.Nanoseconds())/1e3/float64(objects), "go-µs/object")
	}
	if u.dbOK && objects > 0 {
		b.ReportMetric(float64(u.db.Nanoseconds())/1e3/float64(objects), "db-µs/object")
	}
}

// storeObjects turns generated indicators [from, from+n) into store objects.
func storeObjects(tb testing.TB, v *stix.Validator, g *Generator, from, n int) []store.Object {
	tb.Helper()
	raws := make([][]byte, n)
	for i := range raws {
		raws[i] = g.Append(nil, from+i)
	}
	objs := make([]store.Object, n)
	for i, r := range v.ValidateAll(raws) {
		if r.Err != nil {
			tb.Fatalf("indicator %d: %v", from+i, r.Err)
		}
		m := r.Meta
		objs[i] = store.Object{ID: m.ID, Type: m.Type, SpecVersion: m.SpecVersion, Created: m.Created, Modified: m.Modified, Raw: raws[i]}
	}
	return objs
}

func newValidator(tb testing.TB) *stix.Validator {
	tb.Helper()
	v, err := stix.NewValidator(stix.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// fill adds indicators [0, n) in batches of 2000, as import does.
func fill(tb testing.TB, st store.Store, n int) {
	tb.Helper()
	v, g := newValidator(tb), NewGenerator(1)
	for from := 0; from < n; from += 2000 {
		if _, err := st.AddObjects(context.Background(), storeObjects(tb, v, g, from, min(2000, n-from))); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkAddObjects stores batches of 1000 new indicators, one transaction each.
func BenchmarkAddObjects(b *testing.B) {
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			st := s.open(b)
			v, g := newValidator(b), NewGenerator(1)
			const batch = 1000
			// Prepared ahead, so the loop measures the store only.
			batches := make([][]store.Object, 20)
			for i := range batches {
				batches[i] = storeObjects(b, v, g, i*batch, batch)
			}
			next := len(batches) * batch
			i := 0
			m := cpuMeterFor(b, st)
			s0 := m.sample(context.Background())
			var prep time.Duration
			for b.Loop() {
				if i == len(batches) {
					b.StopTimer()
					c0, _ := selfCPU()
					for k := range batches {
						batches[k] = storeObjects(b, v, g, next, batch)
						next += batch
					}
					c1, _ := selfCPU()
					prep += c1 - c0
					i = 0
					b.StartTimer()
				}
				if _, err := st.AddObjects(context.Background(), batches[i]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "objects/s")
			reportCPU(b, m, s0, b.N*batch, prep)
		})
	}
}

// scanSize is the number of objects the scan and page benchmarks read from.
const scanSize = 30_000

// BenchmarkScanObjects reads pages of 1000 and 10000 objects with their raw JSON,
// from positions spread over the store, as the objects endpoint does.
func BenchmarkScanObjects(b *testing.B) {
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			st := s.open(b)
			fill(b, st, scanSize)
			starts := pageStarts(b, st)
			for _, c := range scanCases(b, st) {
				b.Run(c.name, func(b *testing.B) {
					c.prepare()
					limit := c.limit
					var rows, bytes int
					i := 0
					m := cpuMeterFor(b, st)
					s0 := m.sample(context.Background())
					for b.Loop() {
						q := store.Query{Feed: benchFeed.Filter, Limit: limit, After: starts[i%len(starts)], Versions: store.VersionMatch{Last: true}}
						i++
						err := st.ScanObjects(context.Background(), q, func(store.Page) error { return nil },
							func(r store.Row) error { rows++; bytes += len(r.Raw); return nil })
						if err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "objects/s")
					b.SetBytes(int64(bytes / b.N))
					reportCPU(b, m, s0, rows, 0)
				})
			}
		})
	}
}

// benchFeed is the feed the page benchmarks read: indicators, as a Sentinel feed.
var benchFeed = store.Feed{ID: "6f1f3b8e-0d6a-4b8e-9a52-0c7d1d8f6a01", Title: "bench", Filter: store.FeedFilter{Types: []string{"indicator"}}}

type scanCase struct {
	name    string
	limit   int
	prepare func()
}

// scanCases are the page sizes, on Postgres first on a freshly loaded table
// (no statistics: what autovacuum has not seen yet), then after VACUUM ANALYZE.
func scanCases(tb testing.TB, st store.Store) []scanCase {
	var cases []scanCase
	nop := func() {}
	d, isPG := dbURLs.Load(st)
	for _, state := range []string{"fresh", "analyzed"} {
		if !isPG && state == "analyzed" {
			break
		}
		for _, limit := range []int{1000, 10000} {
			name, prepare := "limit="+strconv.Itoa(limit), nop
			if isPG {
				name = state + "/" + name
			}
			if isPG && state == "analyzed" && limit == 1000 {
				prepare = func() {
					if err := d.(*deployment).sql(context.Background(), "VACUUM (ANALYZE) objects"); err != nil {
						tb.Fatal(err)
					}
				}
			}
			cases = append(cases, scanCase{name, limit, prepare})
		}
	}
	return cases
}

// pageStarts returns the date_added of every 1000th object of the first half of
// the store: a page of 10000 from any of them is full.
func pageStarts(tb testing.TB, st store.Store) []int64 {
	tb.Helper()
	var starts []int64
	n := 0
	err := st.ScanObjects(context.Background(), store.Query{Limit: scanSize / 2, NoRaw: true, Versions: store.VersionMatch{Last: true}},
		func(store.Page) error { return nil },
		func(r store.Row) error {
			if n%1000 == 0 {
				starts = append(starts, r.DateAdded)
			}
			n++
			return nil
		})
	if err != nil {
		tb.Fatal(err)
	}
	return starts
}

// BenchmarkServePage serves pages of the objects endpoint over real HTTP from a
// real store, through the whole handler (auth, parameters, cursor, streaming):
// the server side of a pull. The client reads the body without decoding it.
func BenchmarkServePage(b *testing.B) {
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			st := s.open(b)
			fill(b, st, scanSize)
			starts := pageStarts(b, st)
			plain, k, err := auth.Generate("bench", store.RoleReadOnly, nil, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if err := st.CreateKey(ctx, k); err != nil {
				b.Fatal(err)
			}
			feed := benchFeed
			feed.CreatedAt = time.Now()
			if err := st.CreateFeed(ctx, feed); err != nil {
				b.Fatal(err)
			}
			d := config.Default()
			h, err := taxii.NewHandler(taxii.OptionsFrom(d), st, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			for _, c := range scanCases(b, st) {
				b.Run(c.name, func(b *testing.B) {
					c.prepare()
					limit := c.limit
					var body bytes.Buffer
					i := 0
					m := cpuMeterFor(b, st)
					s0 := m.sample(context.Background())
					for b.Loop() {
						added := time.UnixMicro(starts[i%len(starts)]).UTC().Format("2006-01-02T15:04:05.000000Z")
						i++
						url := srv.URL + apiRootPath + "collections/" + feed.ID + "/objects/?limit=" + strconv.Itoa(limit) + "&added_after=" + added
						req, _ := http.NewRequest(http.MethodGet, url, nil)
						req.Header.Set("Accept", mediaTAXII)
						req.Header.Set("Authorization", "Bearer "+plain)
						resp, err := srv.Client().Do(req)
						if err != nil {
							b.Fatal(err)
						}
						body.Reset()
						_, err = body.ReadFrom(resp.Body)
						resp.Body.Close()
						if err != nil || resp.StatusCode != http.StatusOK {
							b.Fatalf("%s: %v %s", url, err, snippet(body.Bytes()))
						}
					}
					b.ReportMetric(float64(b.N*limit)/b.Elapsed().Seconds(), "objects/s")
					b.SetBytes(int64(body.Len()))
					reportCPU(b, m, s0, b.N*limit, 0)
				})
			}
		})
	}
}

// BenchmarkImportPipeline is what `taxii-server import` does with a file of
// JSON lines: decode, then internal/ingest (validate on every core, store) in
// batches of 2000: the path import and Add Objects take, not a copy of it.
func BenchmarkImportPipeline(b *testing.B) {
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			st := s.open(b)
			v, g := newValidator(b), NewGenerator(1)
			in, err := ingest.New(st, v, ingest.Options{Source: "import"})
			if err != nil {
				b.Fatal(err)
			}
			const perOp = 10_000
			var file bytes.Buffer
			next := 0
			m := cpuMeterFor(b, st)
			s0 := m.sample(context.Background())
			var prep time.Duration
			for b.Loop() {
				b.StopTimer()
				c0, _ := selfCPU()
				file.Reset()
				if _, err := g.WriteLines(&file, next, perOp); err != nil {
					b.Fatal(err)
				}
				next += perOp
				c1, _ := selfCPU()
				prep += c1 - c0
				b.StartTimer()
				dec := stix.NewDecoder(&file, stix.Limits{})
				var items []ingest.Item
				flush := func() {
					outs, err := in.Ingest(context.Background(), items)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range outs {
						if o.Result != ingest.Added {
							b.Fatalf("%s: %s", o.ID, o.Reason)
						}
					}
					items = items[:0]
				}
				for {
					raw, _, err := dec.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if items = append(items, ingest.Item{Raw: raw}); len(items) == 2000 {
						flush()
					}
				}
				if len(items) > 0 {
					flush()
				}
			}
			b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "objects/s")
			reportCPU(b, m, s0, b.N*perOp, prep)
		})
	}
}

// BenchmarkDecodeEnvelope is the client side of a pull: decoding a page of 1000
// and remembering every id, with each decoder.
func BenchmarkDecodeEnvelope(b *testing.B) {
	g := NewGenerator(1)
	page := g.AppendEnvelope(nil, 0, 1000)
	page = append(page[:len(page)-1], `,"more":true,"next":"abc"}`...)
	for _, dec := range []string{DecoderScan, DecoderStd} {
		b.Run(dec, func(b *testing.B) {
			r := &reader{c: &Client{decoder: dec}}
			seen := newIDSet()
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				if _, _, n, err := r.decodeEnvelope(page, seen.add); err != nil || n != 1000 {
					b.Fatal(n, err)
				}
			}
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}
