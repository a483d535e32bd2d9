package bench

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"slices"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres"
)

var filteredN = flag.Int("filtered-n", 100_000, "objects in the store of BenchmarkFilteredFeeds")

// filteredFeeds are the feeds of BenchmarkFilteredFeeds and their expected
// selectivity on the mix of mixObject: sources, confidence and labels are
// drawn independently, so the shares multiply.
var filteredFeeds = []struct {
	name   string
	share  float64
	filter store.FeedFilter
}{
	{"100pct", 1, store.FeedFilter{}},
	{"10pct", 0.10, store.FeedFilter{CreatedBy: []string{mixSource(0), mixSource(1)}}},
	{"1pct", 0.0099, store.FeedFilter{CreatedBy: []string{mixSource(0), mixSource(1)}, MinConfidence: 91}},
	{"0.1pct", 0.00099, store.FeedFilter{CreatedBy: []string{mixSource(0), mixSource(1)}, MinConfidence: 91, Labels: []string{"l0"}}},
}

func mixSource(k int) string { return fmt.Sprintf("identity--00000000-0000-4000-8000-%012d", k) }

// draw gives a uniform number in [0, n) for object i and one property, independent across properties.
func draw(i int, property string, n int) int {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", property, i)
	return int(h.Sum64() % uint64(n))
}

// mixObject is indicator i of the realistic mix: TLP 40% clear, 40%
// green, 15% amber, 5% red; 20 sources; confidence uniform in 0-100; one of 10
// labels; 10% revoked; 20% expired.
func mixObject(i int) store.Object {
	tlp := []string{"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
		"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
		"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
		"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"}
	var mark string
	switch t := draw(i, "tlp", 100); {
	case t < 40:
		mark = tlp[0]
	case t < 80:
		mark = tlp[1]
	case t < 95:
		mark = tlp[2]
	default:
		mark = tlp[3]
	}
	validUntil := "2099-01-01T00:00:00Z"
	if draw(i, "expired", 10) < 2 {
		validUntil = "2020-01-01T00:00:00Z"
	}
	id := fmt.Sprintf("indicator--%08x-0000-4000-8000-%012d", i, i)
	raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2024-01-02T03:04:05.678Z",`+
		`"modified":"2024-01-02T03:04:05.678Z","name":"Malicious IP %d","description":"Observed in a phishing campaign `+
		`targeting finance; blocks recommended at the perimeter.","indicator_types":["malicious-activity"],`+
		`"pattern":"[ipv4-addr:value = '198.51.%d.%d']","pattern_type":"stix","valid_from":"2019-01-02T03:04:05Z",`+
		`"valid_until":%q,"revoked":%t,"labels":["l%d"],"confidence":%d,"created_by_ref":%q,"object_marking_refs":[%q]}`,
		id, i, i/256%256, i%256, validUntil, draw(i, "revoked", 10) == 0, draw(i, "label", 10),
		draw(i, "confidence", 101), mixSource(draw(i, "source", 20)), mark)
	return store.Object{ID: id, Type: "indicator", SpecVersion: "2.1",
		Created: "2024-01-02T03:04:05.678Z", Modified: "2024-01-02T03:04:05.678Z", Raw: []byte(raw)}
}

// fillMix stores objects 0..n-1 of the mix, a thousand a call.
func fillMix(b *testing.B, st store.Store, n int) {
	const batch = 1000
	for from := 0; from < n; from += batch {
		objs := make([]store.Object, min(batch, n-from))
		for i := range objs {
			objs[i] = mixObject(from + i)
		}
		if _, err := st.AddObjects(context.Background(), objs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilteredFeeds fills a store with -filtered-n objects of the mix,
// the feeds created first so their membership index is kept at ingest, then
// for each feed reports the latency of a page of 1000 (raw bytes read) at the
// start, the middle and the end of the feed, and the rate of a full pull:
//
//	go test -run '^$' -bench FilteredFeeds -benchtime 1x ./cmd/taxii-bench/internal/bench/
func BenchmarkFilteredFeeds(b *testing.B) {
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			ctx := context.Background()
			st := s.open(b)
			feeds := make([]store.Feed, len(filteredFeeds))
			for i, f := range filteredFeeds {
				id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)
				if err := st.CreateFeed(ctx, store.Feed{ID: id, Title: f.name, Filter: f.filter}); err != nil {
					b.Fatal(err)
				}
				var err error
				if feeds[i], err = st.GetFeed(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
			start := time.Now()
			fillMix(b, st, *filteredN)
			b.Logf("%s: stored %d objects with %d feeds indexed at ingest in %s (%.0f objects/s)", s.name, *filteredN,
				len(feeds), time.Since(start).Round(time.Millisecond), float64(*filteredN)/time.Since(start).Seconds())
			// What autovacuum does after a load: statistics and the visibility
			// map (index-only scans of the membership index read no heap).
			// Autovacuum is then turned off: its workers would run on this
			// database while pages are timed, and their CPU would count.
			if pg, ok := st.(*postgres.Store); ok {
				for _, sql := range []string{`VACUUM ANALYZE objects, feed_members`,
					`ALTER TABLE objects SET (autovacuum_enabled = false)`,
					// Each feed's entries are a partition of feed_members.
					`DO $$ DECLARE p regclass; BEGIN
						FOR p IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'feed_members'::regclass LOOP
							EXECUTE format('ALTER TABLE %s SET (autovacuum_enabled = false)', p);
						END LOOP; END $$`} {
					if _, err := pg.Pool().Exec(ctx, sql); err != nil {
						b.Fatal(err)
					}
				}
			}
			cpu := cpuMeterFor(b, st)
			for i, f := range feeds {
				b.Run(filteredFeeds[i].name, func(b *testing.B) {
					for b.Loop() {
						pullFeed(b, st, cpu, f.Filter, filteredFeeds[i].share)
					}
				})
			}
		})
	}
}

// pullFeed pulls the whole feed once (limit 1000), then times the pages that
// start at its beginning, middle and last position, each the median of 15
// reads. On a shared machine the CPU a page costs (this process, which holds
// SQLite, and the Postgres backends) is steadier than its latency: it is
// reported for the first and middle pages, the mean of their reads.
func pullFeed(b *testing.B, st store.Store, cpu *cpuMeter, filter store.FeedFilter, share float64) {
	ctx := context.Background()
	var starts []int64 // the After of each page
	pulled := 0
	t0 := time.Now()
	q := store.Query{Feed: filter, Limit: 1000}
	for {
		starts = append(starts, q.After)
		var page store.Page
		err := st.ScanObjects(ctx, q, func(p store.Page) error { page = p; return nil },
			func(store.Row) error { pulled++; return nil })
		if err != nil {
			b.Fatal(err)
		}
		if !page.More {
			break
		}
		q.After = page.Last
	}
	pull := time.Since(t0)
	want := share * float64(*filteredN)
	if float64(pulled) < want*0.7 || float64(pulled) > want*1.3+10 {
		b.Fatalf("feed holds %d objects, want about %.0f", pulled, want)
	}
	const reads = 15
	var cpuMS float64 // CPU per read of the last pageAt
	pageAt := func(after int64) float64 {
		var times []time.Duration
		s0 := cpu.sample(ctx)
		for range reads {
			t := time.Now()
			err := st.ScanObjects(ctx, store.Query{Feed: filter, Limit: 1000, After: after},
				func(store.Page) error { return nil }, func(store.Row) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(t))
		}
		u := cpu.since(ctx, s0, reads)
		cpuMS = float64((u.client + u.db).Microseconds()) / 1000 / reads
		slices.Sort(times)
		return float64(times[reads/2].Microseconds()) / 1000
	}
	b.ReportMetric(float64(pulled), "objects")
	b.ReportMetric(pageAt(starts[0]), "first-ms")
	b.ReportMetric(cpuMS, "first-cpu-ms")
	b.ReportMetric(pageAt(starts[len(starts)/2]), "middle-ms")
	b.ReportMetric(cpuMS, "middle-cpu-ms")
	b.ReportMetric(pageAt(starts[len(starts)-1]), "last-ms")
	b.ReportMetric(float64(pulled)/pull.Seconds(), "pull-objects/s")
}

// BenchmarkFeedBuild fills a store with -filtered-n objects of the mix, then
// creates feeds of 10% and 40% of them while a writer adds one object every
// 5 ms, and reports how long the build took and how long the writer waited at
// most: with the build in steps (store.DefaultFeedBuildStep versions each,
// those of the first store.DefaultFeedBuildAtOnce in the creating transaction)
// the writer waits for that and a step, not for the whole build as it did when
// a build was one statement.
//
//	go test -run '^$' -bench FeedBuild -benchtime 1x -filtered-n 1000000 ./cmd/taxii-bench/internal/bench/
func BenchmarkFeedBuild(b *testing.B) {
	builds := []struct {
		name   string
		filter store.FeedFilter
	}{
		{"10pct", store.FeedFilter{CreatedBy: []string{mixSource(0), mixSource(1)}}},
		{"40pct", store.FeedFilter{TLP: []store.TLP{store.TLPGreen}}},
	}
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			ctx := context.Background()
			st := s.open(b)
			fillMix(b, st, *filteredN)
			next := *filteredN
			for i, f := range builds {
				b.Run(f.name, func(b *testing.B) {
					for n := 0; b.Loop(); n++ {
						id := fmt.Sprintf("00000000-0000-4000-8000-%08d%04d", i+1, n)
						stop := make(chan struct{})
						waits := make(chan []time.Duration)
						go func() {
							var w []time.Duration
							defer func() { waits <- w }()
							for {
								select {
								case <-stop:
									return
								case <-time.After(5 * time.Millisecond):
								}
								t0 := time.Now()
								if _, err := st.AddObjects(ctx, []store.Object{mixObject(next)}); err != nil {
									b.Error(err)
									return
								}
								next++
								w = append(w, time.Since(t0))
							}
						}()
						start := time.Now()
						err := st.CreateFeed(ctx, store.Feed{ID: id, Title: f.name, Filter: f.filter})
						took := time.Since(start)
						close(stop)
						w := <-waits
						if err != nil {
							b.Fatal(err)
						}
						count, _, err := st.FeedStats(ctx, store.FeedFilter{Index: id, TLP: f.filter.TLP, CreatedBy: f.filter.CreatedBy})
						if err != nil {
							b.Fatal(err)
						}
						slices.Sort(w)
						var worst, p99 time.Duration
						if len(w) > 0 {
							worst, p99 = w[len(w)-1], w[len(w)*99/100]
						}
						b.ReportMetric(took.Seconds(), "build-s")
						b.ReportMetric(float64(worst.Milliseconds()), "max-write-ms")
						b.Logf("%s %s: built %d entries over %d objects in %s; %d writes meanwhile, p99 %s, max %s",
							s.name, f.name, count, next, took.Round(time.Millisecond), len(w), p99.Round(time.Millisecond), worst.Round(time.Millisecond))
					}
				})
			}
		})
	}
}
