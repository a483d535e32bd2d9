package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/inthreat/taxii-server/internal/ingest"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// importBatch is how many objects go to the store in one transaction: large enough
// to amortise the round trips, small enough that writers do not queue long.
const importBatch = 2000

// analyzeAfter is how many new objects make an import refresh the store's planner
// statistics: without them, the first pages of a freshly loaded feed get poor plans.
const analyzeAfter = 10_000

// analyzer is a store that can refresh its planner statistics (Postgres).
type analyzer interface {
	Analyze(ctx context.Context) error
}

type importCounts struct{ imported, unchanged, rejected int }

func runImport(ctx context.Context, args []string, c *cli) error {
	var collection, source string
	var strict bool
	st, fs, cfg, _, err := commandStore(ctx, "import", args, c, func(fs *flag.FlagSet) {
		fs.StringVar(&collection, "collection", "", "feed id or alias: reject objects the feed would not show")
		fs.BoolVar(&strict, "strict", false, "refuse custom properties that do not start with x_")
		fs.StringVar(&source, "source", "import", "source recorded on every stored version (see source list)")
	})
	if err != nil {
		return err
	}
	defer st.Close()
	if fs.NArg() == 0 {
		return usageError{"import: name at least one FILE (- for standard input)"}
	}
	var filter *store.FeedFilter
	if collection != "" {
		f, err := st.GetFeed(ctx, collection)
		if isNotFound(err) {
			return fmt.Errorf("import: no feed %q", collection)
		} else if err != nil {
			return err
		}
		filter = &f.Filter
	}
	v, err := stix.NewValidator(stix.Options{Strict: strict || cfg.StrictValidation, Limits: objectLimits(cfg)})
	if err != nil {
		return err
	}
	// The CLI is not confined: it may add versions of any source's objects.
	in, err := ingest.New(st, v, ingest.Options{Source: source, Filter: filter})
	if err != nil {
		return usageError{"import: --source must name a source"}
	}
	imp := &importer{in: in, c: c, limits: objectLimits(cfg), started: time.Now()}
	if f, ok := c.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		imp.progress = true
	}
	var fileErrs []error
	for _, name := range fs.Args() {
		if err := imp.file(ctx, name); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var storeErr storeError
			if errors.As(err, &storeErr) {
				return err // the store failing is not a property of one file
			}
			// The rest of an unreadable file is lost to this run: it counts as one rejection.
			fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
			imp.counts.rejected++
			fileErrs = append(fileErrs, err)
		}
	}
	imp.showProgress(true)
	n := imp.counts
	if a, ok := st.(analyzer); ok && n.imported >= analyzeAfter {
		if err := a.Analyze(ctx); err != nil {
			fmt.Fprintf(c.stderr, "import: refreshing planner statistics: %v\n", err)
		}
	}
	fmt.Fprintf(c.stdout, "imported %d, unchanged %d, rejected %d\n", n.imported, n.unchanged, n.rejected)
	if n.rejected > 0 || len(fileErrs) > 0 {
		return errReported
	}
	return nil
}

type storeError struct{ err error }

func (e storeError) Error() string { return "store: " + e.err.Error() }
func (e storeError) Unwrap() error { return e.err }

type importer struct {
	in       *ingest.Ingester
	c        *cli
	limits   stix.Limits
	counts   importCounts
	started  time.Time
	progress bool
	lastShow time.Time
}

// file streams one file: decode, validate a batch on every core, store it.
// Decoding and validation of the next batch overlap with storing this one.
func (imp *importer) file(ctx context.Context, name string) error {
	r, closeInput, err := openInput(name, imp.c.stdin)
	if err != nil {
		return err
	}
	defer closeInput()
	dec := stix.NewDecoder(r, imp.limits)
	type batch struct {
		index []int // input index of each item
		b     *ingest.Batch
	}
	batches := make(chan batch, 1)
	var decodeErr error
	go func() {
		defer close(batches)
		decodeErr = decodeBatches(dec, importBatch, func(ds []decoded) error {
			items := make([]ingest.Item, len(ds))
			index := make([]int, len(ds))
			for i, d := range ds {
				items[i], index[i] = ingest.Item{Raw: d.raw, Err: d.err}, d.index
			}
			select {
			case batches <- batch{index, imp.in.Check(items)}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	for b := range batches {
		if err := imp.store(ctx, name, b.index, b.b); err != nil {
			for range batches { //nolint:revive // drain so the decoder goroutine ends
			}
			return err
		}
	}
	return decodeErr
}

// store stores one checked batch; an object the store refuses is a rejection,
// and only the store failing as a whole is an error.
func (imp *importer) store(ctx context.Context, name string, index []int, b *ingest.Batch) error {
	outs, err := imp.in.Store(ctx, b)
	if err != nil {
		return storeError{err}
	}
	for i, o := range outs {
		switch o.Result {
		case ingest.Added:
			imp.counts.imported++
		case ingest.Unchanged:
			imp.counts.unchanged++
		default:
			imp.reject(name, index[i], o.ID, o.Reason)
		}
	}
	imp.showProgress(false)
	return nil
}

func (imp *importer) reject(file string, index int, id, reason string) {
	imp.counts.rejected++
	if id == "" {
		id = "-"
	}
	fmt.Fprintf(imp.c.stderr, "rejected %s:%d %s: %s\n", file, index, id, reason)
}

func (imp *importer) showProgress(final bool) {
	if !imp.progress {
		return
	}
	now := time.Now()
	if !final && now.Sub(imp.lastShow) < time.Second {
		return
	}
	imp.lastShow = now
	n := imp.counts.imported + imp.counts.unchanged + imp.counts.rejected
	rate := float64(n) / now.Sub(imp.started).Seconds()
	end := "\r"
	if final {
		end = "\n"
	}
	fmt.Fprintf(imp.c.stderr, "\x1b[2K%d objects, %.0f objects/s%s", n, rate, end)
}
