package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/inthreat/taxii-server/internal/observables"
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
	var collection string
	var strict bool
	st, fs, cfg, _, err := commandStore(ctx, "import", args, c, func(fs *flag.FlagSet) {
		fs.StringVar(&collection, "collection", "", "feed id or alias: reject objects the feed would not show")
		fs.BoolVar(&strict, "strict", false, "refuse custom properties that do not start with x_")
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
	imp := &importer{st: st, v: v, filter: filter, c: c, limits: objectLimits(cfg), started: time.Now()}
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
	st       store.Store
	v        *stix.Validator
	filter   *store.FeedFilter
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
		items []decoded
		res   []stix.Result
	}
	batches := make(chan batch, 1)
	var decodeErr error
	go func() {
		defer close(batches)
		decodeErr = decodeBatches(dec, importBatch, func(items []decoded) error {
			raws := make([][]byte, len(items))
			for i, it := range items {
				raws[i] = it.raw
			}
			select {
			case batches <- batch{items, imp.v.ValidateAll(raws)}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	for b := range batches {
		if err := imp.store(ctx, name, b.items, b.res); err != nil {
			for range batches { //nolint:revive // drain so the decoder goroutine ends
			}
			return err
		}
	}
	return decodeErr
}

func (imp *importer) store(ctx context.Context, name string, items []decoded, res []stix.Result) error {
	objs := make([]store.Object, 0, len(items))
	for i, r := range res {
		if items[i].err != nil {
			imp.reject(name, items[i].index, "", items[i].err.Error())
			continue
		}
		if r.Err != nil {
			reason := r.Err.Error()
			var se *stix.Error
			if errors.As(r.Err, &se) { // the id is printed once, before the reason
				reason = strings.TrimPrefix(se.Path+": "+se.Reason, ": ")
			}
			imp.reject(name, items[i].index, r.Meta.ID, reason)
			continue
		}
		if imp.filter != nil && !imp.filter.Allows(r.Meta.Type) {
			imp.reject(name, items[i].index, r.Meta.ID, fmt.Sprintf("type %q is not exported by the collection", r.Meta.Type))
			continue
		}
		objs = append(objs, store.Object{
			ID: r.Meta.ID, Type: r.Meta.Type, SpecVersion: r.Meta.SpecVersion,
			Created: r.Meta.Created, Modified: r.Meta.Modified, Raw: items[i].raw,
			Observables: observables.OfType(r.Meta.Type, items[i].raw),
		})
	}
	out, err := imp.st.AddObjects(ctx, objs)
	if err != nil {
		return storeError{err}
	}
	for _, o := range out {
		if o.Added {
			imp.counts.imported++
		} else {
			imp.counts.unchanged++
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
