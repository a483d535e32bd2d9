package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultPGURL is the Postgres server the benchmark creates its database on by default.
const DefaultPGURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Config is what one benchmark run measures.
type Config struct {
	N        int           // objects in the data set; at least 2000
	Store    string        // "postgres" or "sqlite"
	PGURL    string        // a Postgres server where the benchmark may create a database
	Runs     int           // repetitions of the cheap measurements, whose medians are reported
	Pollers  []int         // concurrent poller counts, each measured in turn
	PollTime time.Duration // how long each poller measurement runs (two per count)
	Quick    bool          // one run, few samples, short polling: proves the tool works
	Seed     uint64        // names the data set
	Decoder  string        // the client's envelope decoder: DecoderScan (default) or DecoderStd
	// Types are the STIX types the benchmark feed exports, as `feed create --types`
	// takes them; empty: every type. The data set is all indicators either way.
	Types string
	// ServerBin is a built taxii-server; empty: built from the module into WorkDir.
	ServerBin string
	// WorkDir holds the data file and the embedded store; empty: a temporary folder, removed.
	WorkDir  string
	Progress io.Writer // progress lines; nil: none
}

func (c *Config) setDefaults() {
	if c.N == 0 {
		c.N = 100_000
	}
	if c.Store == "" {
		c.Store = "postgres"
	}
	if c.PGURL == "" {
		c.PGURL = DefaultPGURL
	}
	if c.Runs == 0 {
		c.Runs = 3
		if c.Quick {
			c.Runs = 1
		}
	}
	if len(c.Pollers) == 0 {
		c.Pollers = []int{50, 200}
	}
	if c.PollTime == 0 {
		c.PollTime = 20 * time.Second
		if c.Quick {
			c.PollTime = 2 * time.Second
		}
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Decoder == "" {
		c.Decoder = DecoderScan
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.N < 2000 {
		errs = append(errs, fmt.Errorf("-n %d: want at least 2000 (the deep page needs two full pages)", c.N))
	}
	if c.Store != "postgres" && c.Store != "sqlite" {
		errs = append(errs, fmt.Errorf("-store %q: want postgres or sqlite", c.Store))
	}
	if c.Decoder != DecoderScan && c.Decoder != DecoderStd {
		errs = append(errs, fmt.Errorf("-decoder %q: want %s or %s", c.Decoder, DecoderScan, DecoderStd))
	}
	if c.Runs < 1 {
		errs = append(errs, fmt.Errorf("-runs %d: want at least 1", c.Runs))
	}
	for _, p := range c.Pollers {
		if p < 1 || p > 10000 {
			errs = append(errs, fmt.Errorf("-pollers: %d is not between 1 and 10000", p))
		}
	}
	if c.PollTime < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("-poll-time %s: want at least 100ms", c.PollTime))
	}
	return errors.Join(errs...)
}

// Phases of the report, in the order of the issue: figures appear in this order
// whatever order they are measured in.
const (
	secImport = iota
	secPull
	secAddedAfter
	secDeepPage
	secPollers
	secMemory
	secBaseline
	sections
)

// Pages sizes of the full-feed pulls, and of the pollers' and deep-page requests.
var pullLimits = []int{1000, 10000}

const pollLimit = 1000

// run is one benchmark in progress.
type run struct {
	cfg     Config
	started time.Time
	report  *Report
	figs    [sections][]Figure

	dir      string
	data     string // the data set, as JSON lines
	dep      *deployment
	srv      *server
	feed     string
	readKey  string
	writeKey string
	reader   *Client

	cpu *cpuMeter

	next    int      // index of the next indicator to add after the data set
	lasts   []string // X-TAXII-Date-Added-Last of each page of a limit=1000 pull
	canPost bool
}

// Run runs the benchmark: it makes the data set, starts a server on a store of its
// own, measures, and removes everything it made, the database included.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &run{cfg: cfg, started: time.Now(), next: cfg.N}
	b.report = &Report{Machine: Machine{
		Cores: runtime.NumCPU(), CPU: cpuModel(), GoVersion: runtime.Version(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Store: cfg.Store, Objects: cfg.N,
		Runs: cfg.Runs, Quick: cfg.Quick, Decoder: cfg.Decoder, FeedTypes: cfg.Types, Started: b.started.UTC(),
	}}
	defer func() {
		if cerr := b.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"prepare", b.prepare},
		{"import", b.importCommand},
		{"pull", b.pulls},
		{"add objects", b.importPost},
		{"pollers", b.pollers},
	}
	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	for _, f := range b.figs {
		b.report.Figures = append(b.report.Figures, f...)
	}
	b.report.Machine.Seconds = time.Since(b.started).Seconds()
	return b.report, nil
}

func (b *run) logf(format string, args ...any) {
	fmt.Fprintf(b.cfg.Progress, "[%6.1fs] %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

func (b *run) add(sec int, key, name string, v float64, unit string) {
	b.figs[sec] = append(b.figs[sec], Figure{Key: key, Name: name, Value: v, Unit: unit})
}

func (b *run) na(sec int, key, name, unit, why string) {
	b.figs[sec] = append(b.figs[sec], Figure{Key: key, Name: name, Unit: unit, Missing: why})
}

// prepare writes the data set, builds the server and starts it on a new store,
// and creates a writable feed, a read-only key and a read-write key.
func (b *run) prepare(ctx context.Context) error {
	b.dir = b.cfg.WorkDir
	if b.dir == "" {
		dir, err := os.MkdirTemp("", "taxii-bench-")
		if err != nil {
			return err
		}
		b.dir = dir
	} else if err := os.MkdirAll(b.dir, 0o750); err != nil {
		return err
	}

	b.data = filepath.Join(b.dir, "indicators.jsonl")
	f, err := os.Create(b.data)
	if err != nil {
		return err
	}
	size, err := NewGenerator(b.cfg.Seed).WriteLines(f, 0, b.cfg.N)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the data set: %w", err)
	}
	b.report.Machine.DataBytes = size
	b.logf("data set: %d indicators, %.1f MB, in %s", b.cfg.N, float64(size)/1e6, b.data)

	bin := b.cfg.ServerBin
	if bin == "" {
		b.logf("building the server")
		if bin, err = BuildServer(ctx, b.dir); err != nil {
			return err
		}
	}
	if b.cfg.Store == "postgres" {
		if b.dep, err = newPostgresDeployment(ctx, bin, b.cfg.PGURL); err != nil {
			return err
		}
		if b.report.Machine.Postgres, err = postgresVersion(ctx, b.dep.pgURL); err != nil {
			return err
		}
	} else {
		b.dep = newSqliteDeployment(bin, b.dir)
	}
	if b.srv, err = b.dep.startServer(ctx); err != nil {
		return err
	}
	b.logf("server %d listening on %s (%s store)", b.srv.pid(), b.srv.addr, b.cfg.Store)
	b.cpu = newCPUMeter(ctx, b.srv.pid(), b.dep)

	out, err := b.dep.command(ctx, "feed", "create", "--title", "Benchmark indicators", "--writable", "--types", b.cfg.Types)
	if err != nil {
		return err
	}
	b.feed = strings.TrimSpace(out)
	if out, err = b.dep.command(ctx, "key", "create", "--name", "bench-reader", "--role", "read-only"); err != nil {
		return err
	}
	b.readKey = strings.TrimSpace(out)
	if out, err = b.dep.command(ctx, "key", "create", "--name", "bench-writer", "--role", "read-write"); err != nil {
		return err
	}
	b.writeKey = strings.TrimSpace(out)
	b.reader = NewClient(b.rootURL(), b.feed, b.readKey, 4, b.cfg.Decoder)
	return nil
}

func (b *run) rootURL() string { return "http://" + b.srv.addr + apiRootPath }

// close stops the server and removes the database and the work folder.
func (b *run) close() error {
	var errs []error
	if b.reader != nil {
		b.reader.Close()
	}
	if b.cpu != nil {
		b.cpu.close()
	}
	if b.srv != nil {
		errs = append(errs, b.srv.stop())
	}
	if b.dep != nil {
		errs = append(errs, b.dep.close())
	}
	if b.cfg.WorkDir == "" && b.dir != "" {
		errs = append(errs, os.RemoveAll(b.dir))
	}
	return errors.Join(errs...)
}

// importCommand is figure 1a: `taxii-server import` of the data set, validation on.
func (b *run) importCommand(ctx context.Context) error {
	track := b.cpu.trackDatabase(ctx)
	start := time.Now()
	out, proc, err := b.dep.commandCPU(ctx, "import", b.data)
	elapsed := time.Since(start)
	db, dbOK := track.stop()
	if err != nil {
		return err
	}
	var imported, unchanged, conflicting, rejected int
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "imported %d, unchanged %d, conflicting %d, rejected %d", &imported, &unchanged, &conflicting, &rejected); err != nil {
		return fmt.Errorf("unexpected output of import: %q", out)
	}
	if imported != b.cfg.N {
		return fmt.Errorf("import stored %d of %d objects (%d unchanged, %d conflicting, %d rejected)", imported, b.cfg.N, unchanged, conflicting, rejected)
	}
	rate := perSecond(float64(imported), elapsed)
	dbPer := "-"
	if dbOK {
		dbPer = fmt.Sprintf("%.2f", float64(db.Nanoseconds())/1e3/float64(imported))
	}
	b.logf("import: %d objects in %s: %.0f objects/s; CPU µs/object: import process %.2f, database %s",
		imported, elapsed.Round(time.Millisecond), rate, float64(proc.Nanoseconds())/1e3/float64(imported), dbPer)
	name := "import: taxii-server import, validated"
	b.add(secImport, "import.command", name, rate, "objects/s")
	if proc > 0 {
		b.add(secImport, "import.command.cpu_import", name+", CPU of the import process", float64(proc.Nanoseconds())/1e3/float64(imported), "µs/object")
	}
	if b.cfg.Store == "postgres" {
		if dbOK {
			b.add(secImport, "import.command.cpu_database", name+", CPU of the Postgres backends", float64(db.Nanoseconds())/1e3/float64(imported), "µs/object")
		} else {
			b.na(secImport, "import.command.cpu_database", name+", CPU of the Postgres backends", "µs/object", "not a local Postgres of its own")
		}
	}
	return b.maintain(ctx)
}

// maintain does after a bulk load what autovacuum does on a production Postgres
// within a minute: statistics and the visibility map. The query plans of a
// freshly loaded table depend on them; without them the figures would measure
// a table nobody runs in production (see Machine.Maintenance).
func (b *run) maintain(ctx context.Context) error {
	if b.cfg.Store != "postgres" {
		return nil
	}
	start := time.Now()
	if err := b.dep.sql(ctx, "VACUUM (ANALYZE) objects"); err != nil {
		return err
	}
	b.report.Machine.Maintenance = "VACUUM (ANALYZE) objects after the import, as autovacuum would"
	b.logf("VACUUM (ANALYZE) objects: %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// pulls are figures 2 and 3 (full-feed pulls by next and by added_after at both
// page sizes), 4 (deep page) and the server's peak memory meanwhile.
func (b *run) pulls(ctx context.Context) error {
	peak := watchPeak(b.srv.pid())
	type series struct {
		rates, mbps []float64
		cpu         cpuUse
	}
	got := map[string]*series{}
	key := func(m PullMethod, limit int) string { return fmt.Sprintf("%s.%d", m, limit) }
	var runs []pullRun
	for run := 1; run <= b.cfg.Runs; run++ {
		pr := pullRun{nextRates: map[int]float64{}}
		for _, m := range []PullMethod{FollowNext, AddedAfter} {
			for _, limit := range pullLimits {
				cpu0 := b.cpu.sample(ctx)
				res, err := b.reader.Pull(ctx, m, limit)
				if err != nil {
					return fmt.Errorf("pull by %s, limit=%d: %w", m, limit, err)
				}
				used := b.cpu.since(ctx, cpu0, res.Objects)
				b.report.Pulls = append(b.report.Pulls, PullCheck{
					Name:    fmt.Sprintf("%s limit=%d run %d", m, limit, run),
					Objects: res.Objects, Duplicates: res.Duplicates,
				})
				if res.Objects != b.cfg.N || res.Duplicates != 0 {
					return fmt.Errorf("pull by %s, limit=%d returned %d objects (%d duplicates) of %d", m, limit, res.Objects, res.Duplicates, b.cfg.N)
				}
				s := got[key(m, limit)]
				if s == nil {
					s = &series{}
					got[key(m, limit)] = s
				}
				s.rates = append(s.rates, perSecond(float64(res.Objects), res.Elapsed))
				s.mbps = append(s.mbps, perSecond(float64(res.Bytes)/1e6, res.Elapsed))
				s.cpu.add(used)
				if m == FollowNext && limit == pollLimit && b.lasts == nil {
					b.lasts = res.Lasts
				}
				if m == FollowNext {
					pr.nextRates[limit] = s.rates[len(s.rates)-1]
				}
				b.logf("pull by %s, limit=%d, run %d: %d objects in %d pages, %s: %.0f objects/s, %.1f MB/s; CPU µs/object %s",
					m, limit, run, res.Objects, res.Pages, res.Elapsed.Round(time.Millisecond), s.rates[len(s.rates)-1], s.mbps[len(s.mbps)-1], used)
			}
		}
		var err error
		if pr.baseline, pr.baselineCPU, err = b.readBaseline(ctx); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		runs = append(runs, pr)
	}
	if err := b.baseline(runs); err != nil {
		return err
	}
	for _, m := range []PullMethod{FollowNext, AddedAfter} {
		sec, how := secPull, "following next"
		if m == AddedAfter {
			sec, how = secAddedAfter, "re-polling added_after"
		}
		for _, limit := range pullLimits {
			s := got[key(m, limit)]
			name := fmt.Sprintf("full pull %s, limit=%d", how, limit)
			b.add(sec, "pull."+key(m, limit)+".rate", name, median(s.rates), "objects/s")
			b.add(sec, "pull."+key(m, limit)+".mbps", name, median(s.mbps), "MB/s")
			if m == FollowNext {
				b.addCPU(sec, "pull."+key(m, limit), name, s.cpu, true)
			}
		}
	}
	if err := b.deepPage(ctx); err != nil {
		return err
	}
	if bytes, err := peak.done(); err == nil {
		b.add(secMemory, "rss.pull", "server peak RSS during the pulls", float64(bytes)/(1<<20), "MiB")
	} else {
		b.na(secMemory, "rss.pull", "server peak RSS during the pulls", "MiB", err.Error())
	}
	return nil
}

// deepPage is figure 4: a full page at the end of the feed (by added_after)
// against the first page, alternated, medians of many.
func (b *run) deepPage(ctx context.Context) error {
	// The page after lasts[k] is full: k+1 pages of pollLimit come before it, and at least one after.
	k := b.cfg.N/pollLimit - 2
	if k < 0 || k >= len(b.lasts) {
		return fmt.Errorf("deep page: %d page boundaries for %d objects", len(b.lasts), b.cfg.N)
	}
	first := "limit=" + strconv.Itoa(pollLimit)
	deep := first + "&added_after=" + url.QueryEscape(b.lasts[k])
	samples := 50
	if b.cfg.Quick {
		samples = 5
	}
	r := b.reader.newReader()
	var firstT, deepT []time.Duration
	for i := -1; i < samples; i++ { // one warm-up round
		for _, q := range []string{first, deep} {
			p, err := r.page(ctx, q, nil)
			if err != nil {
				return err
			}
			if p.objects != pollLimit {
				return fmt.Errorf("deep page: %q returned %d objects, want %d", q, p.objects, pollLimit)
			}
			if i < 0 {
				continue
			}
			if q == first {
				firstT = append(firstT, p.latency)
			} else {
				deepT = append(deepT, p.latency)
			}
		}
	}
	f, d := medianDuration(firstT), medianDuration(deepT)
	b.logf("deep page: first %s, last %s (median of %d)", f, d, samples)
	name := fmt.Sprintf("page of %d", pollLimit)
	b.add(secDeepPage, "deep_page.first", name+" at the start of the feed", ms(f), "ms")
	b.add(secDeepPage, "deep_page.last", name+" at the end (added_after)", ms(d), "ms")
	b.add(secDeepPage, "deep_page.ratio", "deep-page ratio: end / start", float64(d)/float64(f), "x")
	return nil
}

// baseline is figure 7: the database's own fastest read of the same objects,
// and how close the pulls by next come to it, from the runs of the pulls.
func (b *run) baseline(runs []pullRun) error {
	var rates, mbps []float64
	ratios := map[int][]float64{}
	var cpu cpuUse
	for _, r := range runs {
		res := r.baseline
		used := r.baselineCPU
		cpu.add(used)
		rate := perSecond(float64(res.rows), res.elapsed)
		rates = append(rates, rate)
		mbps = append(mbps, perSecond(float64(res.bytes)/1e6, res.elapsed))
		for limit, pull := range r.nextRates {
			ratios[limit] = append(ratios[limit], pull/rate)
		}
	}
	name := "baseline: COPY (SELECT raw ... ORDER BY date_added) TO STDOUT (binary)"
	if b.cfg.Store == "sqlite" {
		name = "baseline: SELECT raw FROM objects ORDER BY date_added (database/sql)"
	}
	b.add(secBaseline, "baseline.rate", name, median(rates), "objects/s")
	b.add(secBaseline, "baseline.mbps", name, median(mbps), "MB/s")
	b.addCPU(secBaseline, "baseline", "baseline", cpu, false)
	// Each run's pulls and baseline ran back to back, under the same load: the
	// ratio is taken run by run, then the median.
	for _, limit := range pullLimits {
		b.add(secBaseline, fmt.Sprintf("baseline.ratio.%d", limit), fmt.Sprintf("full pull following next, limit=%d / baseline", limit), median(ratios[limit]), "x")
	}
	return nil
}

// readBaseline reads every object straight from the database once.
func (b *run) readBaseline(ctx context.Context) (baselineResult, cpuUse, error) {
	var res baselineResult
	var err error
	cpu0 := b.cpu.sample(ctx)
	if b.cfg.Store == "postgres" {
		res, err = postgresBaseline(ctx, b.dep.pgURL)
	} else {
		res, err = sqliteBaseline(ctx, b.dep.sqlite)
	}
	if err != nil {
		return res, cpuUse{}, err
	}
	if res.rows != int64(b.cfg.N) {
		return res, cpuUse{}, fmt.Errorf("the baseline read %d rows, want %d", res.rows, b.cfg.N)
	}
	used := b.cpu.since(ctx, cpu0, int(res.rows))
	// The baseline's own connection is gone by now: its backend measured itself.
	used.db, used.dbOK = res.dbCPU, res.dbCPU > 0
	b.logf("baseline: %d rows, %.1f MB in %s: %.0f objects/s; CPU µs/object %s", res.rows, float64(res.bytes)/1e6,
		res.elapsed.Round(time.Millisecond), perSecond(float64(res.rows), res.elapsed), used)
	return res, used, nil
}

// pullRun is one round of the pulls with its baseline, measured back to back.
type pullRun struct {
	nextRates   map[int]float64 // by limit, following next
	baseline    baselineResult
	baselineCPU cpuUse
}

// addCPU adds the CPU per object of a measurement: the server's (when it took
// part), the database's (Postgres backends on this machine) and the client's.
// Their sum bounds the rate the machine's cores allow.
func (b *run) addCPU(sec int, key, name string, u cpuUse, server bool) {
	parts := []struct {
		key, who string
		v        time.Duration
		ok       bool
		why      string
	}{
		{"server", "taxii-server", u.server, u.serverOK, "no /proc"},
		{"database", "Postgres backends", u.db, u.dbOK, "not a local Postgres of its own"},
		{"client", "client", u.client, u.clientOK, "no getrusage"},
	}
	for _, p := range parts {
		if p.key == "server" && !server || p.key == "database" && b.cfg.Store != "postgres" {
			continue
		}
		k, n := key+".cpu_"+p.key, name+", CPU of the "+p.who
		if !p.ok || u.objects == 0 {
			b.na(sec, k, n, "µs/object", p.why)
			continue
		}
		b.add(sec, k, n, float64(p.v.Nanoseconds())/1e3/float64(u.objects), "µs/object")
	}
}

// postBatch is the size of one add-objects request.
const postBatch = 1000

// importPost is figure 1b: one client adding new indicators with POST, batches
// of 1000, one request after the other. The server validates them too.
func (b *run) importPost(ctx context.Context) error {
	const name, unit = "import: POST objects, batches of 1000, validated", "objects/s"
	total := min(max(b.cfg.N/5/postBatch*postBatch, postBatch), 100_000)
	if b.cfg.Quick {
		total = postBatch
	}
	w := NewClient(b.rootURL(), b.feed, b.writeKey, 1, b.cfg.Decoder)
	defer w.Close()
	g := NewGenerator(b.cfg.Seed)
	var body []byte
	var elapsed time.Duration
	added := 0
	for added < total {
		body = g.AppendEnvelope(body[:0], b.next, postBatch)
		start := time.Now()
		n, err := w.Post(ctx, body)
		if errors.Is(err, ErrNoWriteAPI) {
			b.logf("add objects: the server has no POST objects endpoint")
			b.na(secImport, "import.post", name, unit, "endpoint missing")
			return nil
		}
		if err != nil {
			return err
		}
		elapsed += time.Since(start)
		if n != postBatch {
			return fmt.Errorf("POST of %d new objects added %d", postBatch, n)
		}
		b.next += postBatch
		added += n
	}
	b.canPost = true
	rate := perSecond(float64(added), elapsed)
	b.logf("add objects: %d objects in %s: %.0f objects/s", added, elapsed.Round(time.Millisecond), rate)
	b.add(secImport, "import.post", name, rate, unit)
	return nil
}

// pollers is figure 5 and the memory of figure 6. For each count, that many
// clients pull pages of 1000 from random places of the feed, following next,
// while an importer adds objects: first back to back, which measures capacity
// (at saturation, latency is only concurrency / capacity, by Little's law);
// then each paced so that together they ask for half that capacity, which
// measures the latency a poller sees on a server that keeps up.
func (b *run) pollers(ctx context.Context) error {
	for _, n := range b.cfg.Pollers {
		name := fmt.Sprintf("%d pollers, pages of %d", n, pollLimit)
		key := fmt.Sprintf("pollers.%d.", n)
		full, err := b.pollersAt(ctx, n, 0)
		if err != nil {
			return fmt.Errorf("%d pollers: %w", n, err)
		}
		b.add(secPollers, key+"rate", name+", back to back: total", full.rate, "objects/s")
		b.add(secPollers, key+"p50", name+", back to back: latency p50", ms(full.p50), "ms")
		b.add(secPollers, key+"p99", name+", back to back: latency p99", ms(full.p99), "ms")

		// Each poller asks for a page every interval: n/interval = half the pages/s above.
		interval := time.Duration(float64(n) / (full.pagesPerSec / 2) * float64(time.Second))
		paced, err := b.pollersAt(ctx, n, interval)
		if err != nil {
			return fmt.Errorf("%d paced pollers: %w", n, err)
		}
		how := fmt.Sprintf(", at half capacity (%.0f pages/s)", float64(n)/interval.Seconds())
		b.add(secPollers, key+"paced.p50", name+how+": latency p50", ms(paced.p50), "ms")
		b.add(secPollers, key+"paced.p99", name+how+": latency p99", ms(paced.p99), "ms")
		b.add(secPollers, key+"failed", name+", failed requests", float64(full.failed+paced.failed), "requests")
		b.add(secPollers, key+"import", name+", meanwhile added by "+full.importHow, (full.importRate+paced.importRate)/2, "objects/s")

		mem, memErr := full.peak, full.peakErr
		if paced.peakErr == nil {
			mem = max(mem, paced.peak)
		}
		rssKey, rssName := fmt.Sprintf("rss.pollers.%d", n), fmt.Sprintf("server peak RSS with %d pollers", n)
		if memErr == nil {
			b.add(secMemory, rssKey, rssName, float64(mem)/(1<<20), "MiB")
		} else {
			b.na(secMemory, rssKey, rssName, "MiB", memErr.Error())
		}
	}
	return nil
}

// pollResult is one measurement of concurrent pollers.
type pollResult struct {
	p50, p99    time.Duration
	rate        float64 // objects/s, all pollers
	pagesPerSec float64
	failed      int
	importRate  float64 // objects/s the importer added meanwhile
	importHow   string
	peak        int64 // server peak RSS, bytes
	peakErr     error
}

// pollersAt runs n pollers for PollTime. With interval 0 each asks for its next
// page as soon as it has the last; otherwise it asks every interval (or at once,
// when a page took longer), from a random offset.
func (b *run) pollersAt(ctx context.Context, n int, interval time.Duration) (pollResult, error) {
	var out pollResult
	if len(b.lasts) == 0 {
		return out, errors.New("no page boundaries to start from")
	}
	c := NewClient(b.rootURL(), b.feed, b.readKey, n, b.cfg.Decoder)
	defer c.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	peak := watchPeak(b.srv.pid())
	start := time.Now()
	deadline := start.Add(b.cfg.PollTime)

	var imported atomic.Int64
	var importErr error
	var importEnd time.Time
	var iwg sync.WaitGroup
	iwg.Go(func() {
		importErr = b.importWhile(ctx, deadline, &imported)
		importEnd = time.Now()
	})

	type pollerResult struct {
		latencies []time.Duration
		objects   int
		failed    int
		err       error
	}
	results := make([]pollerResult, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res := &results[i]
			rng := rand.New(rand.NewPCG(b.cfg.Seed, uint64(i)))
			r := c.newReader()
			from := func() string {
				return "limit=" + strconv.Itoa(pollLimit) + "&added_after=" + url.QueryEscape(b.lasts[rng.IntN(len(b.lasts))])
			}
			params := from()
			next := start
			if interval > 0 {
				next = start.Add(time.Duration(rng.Int64N(int64(interval))))
			}
			for {
				if interval > 0 {
					if wait := time.Until(next); wait > 0 {
						select {
						case <-time.After(wait):
						case <-ctx.Done():
						}
					}
					next = next.Add(interval)
					if now := time.Now(); next.Before(now) {
						next = now // late: no burst to catch up
					}
				}
				if !time.Now().Before(deadline) {
					return
				}
				p, err := r.page(ctx, params, nil)
				if err != nil {
					if ctx.Err() != nil {
						res.err = ctx.Err()
						return
					}
					res.failed++
					params = from()
					continue
				}
				res.latencies = append(res.latencies, p.latency)
				res.objects += p.objects
				if p.more {
					params = "limit=" + strconv.Itoa(pollLimit) + "&next=" + url.QueryEscape(p.next)
				} else {
					params = from()
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	iwg.Wait()
	out.peak, out.peakErr = peak.done()

	var lat []time.Duration
	objects := 0
	for _, r := range results {
		if r.err != nil {
			return out, r.err
		}
		lat = append(lat, r.latencies...)
		objects += r.objects
		out.failed += r.failed
	}
	if importErr != nil {
		return out, fmt.Errorf("the importer: %w", importErr)
	}
	if len(lat) == 0 {
		return out, fmt.Errorf("no page completed in %s", b.cfg.PollTime)
	}
	out.p50, out.p99 = percentile(lat, 50), percentile(lat, 99)
	out.rate = perSecond(float64(objects), elapsed)
	out.pagesPerSec = perSecond(float64(len(lat)), elapsed)
	out.importRate = perSecond(float64(imported.Load()), importEnd.Sub(start))
	out.importHow = "POST"
	if !b.canPost {
		out.importHow = "taxii-server import"
	}
	pace := "back to back"
	if interval > 0 {
		pace = fmt.Sprintf("one page every %s each", interval.Round(time.Millisecond))
	}
	b.logf("%d pollers, %s: %d pages, p50 %s, p99 %s, %.0f objects/s, %d failed; meanwhile %s added %d objects (%.0f/s)",
		n, pace, len(lat), out.p50.Round(time.Microsecond), out.p99.Round(time.Microsecond), out.rate, out.failed,
		out.importHow, imported.Load(), out.importRate)
	return out, nil
}

// importWhile adds new indicators until the deadline: by POST in batches of 1000
// when the server has the endpoint, else by `taxii-server import` of 10,000 at a time.
func (b *run) importWhile(ctx context.Context, deadline time.Time, added *atomic.Int64) error {
	g := NewGenerator(b.cfg.Seed)
	if b.canPost {
		w := NewClient(b.rootURL(), b.feed, b.writeKey, 1, b.cfg.Decoder)
		defer w.Close()
		var body []byte
		for time.Now().Before(deadline) {
			body = g.AppendEnvelope(body[:0], b.next, postBatch)
			n, err := w.Post(ctx, body)
			if err != nil {
				return err
			}
			b.next += postBatch
			added.Add(int64(n))
		}
		return nil
	}
	const chunk = 10_000
	path := filepath.Join(b.dir, "more.jsonl")
	for time.Now().Before(deadline) {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		_, err = g.WriteLines(f, b.next, chunk)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		out, err := b.dep.command(ctx, "import", path)
		if err != nil {
			return err
		}
		var imported int
		if _, err := fmt.Sscanf(strings.TrimSpace(out), "imported %d", &imported); err != nil {
			return fmt.Errorf("unexpected output of import: %q", out)
		}
		b.next += chunk
		added.Add(int64(imported))
	}
	return nil
}
