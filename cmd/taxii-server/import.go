package main

import (
	"context"
	"encoding/json"
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

func runImport(ctx context.Context, args []string, c *cli) error {
	var collection, source string
	var strict, asJSON bool
	st, fs, cfg, _, err := commandStore(ctx, "import", args, c, func(fs *flag.FlagSet) {
		fs.StringVar(&collection, "collection", "", "feed id or alias: reject objects the feed would not show")
		fs.BoolVar(&strict, "strict", false, "refuse custom properties that do not start with x_")
		fs.StringVar(&source, "source", "import", "source recorded on every stored version (see source list)")
		fs.BoolVar(&asJSON, "json", false, "print the summary as one JSON object (totals, and each file's counts and listed objects)")
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
	v, err := stix.NewValidator(stix.Options{Strict: strict || cfg.StrictValidation, Limits: cfg.ObjectLimits()})
	if err != nil {
		return err
	}
	// The CLI is not confined: it may add versions of any source's objects.
	in, err := ingest.New(st, v, ingest.Options{Source: source, Filter: filter})
	if err != nil {
		return usageError{"import: --source must name a source"}
	}
	imp := &importer{in: in, c: c, limits: cfg.ObjectLimits(), listMax: cfg.ImportListMax, started: time.Now(), every: c.progressEvery}
	if f, ok := c.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		imp.terminal = true
	}
	if imp.every <= 0 {
		imp.every = 5 * time.Second
	}
	imp.lastShow = imp.started
	var fileErrs []error
	for _, name := range fs.Args() {
		if err := imp.file(ctx, name); err != nil {
			if ctx.Err() != nil {
				// What was stored before the interrupt stays stored: say how much.
				if asJSON {
					imp.fileSummary(name, false)
					imp.printJSON(true)
				} else {
					fmt.Fprintf(c.stdout, "interrupted: %s (committed before the interrupt)\n", imp.counts)
				}
				return ctx.Err()
			}
			var storeErr storeError
			if errors.As(err, &storeErr) {
				return err // the store failing is not a property of one file
			}
			// The rest of an unreadable file is lost to this run: it counts as one rejection.
			fmt.Fprintf(c.stderr, "%s: %v\n", name, err)
			imp.counts.Rejected++
			imp.file0.Rejected++
			fileErrs = append(fileErrs, err)
		}
		imp.fileSummary(name, len(fs.Args()) > 1)
	}
	imp.showProgress(true)
	n := imp.counts
	if err := ingest.AfterImport(ctx, st, n.Imported); err != nil {
		fmt.Fprintf(c.stderr, "import: refreshing planner statistics: %v\n", err)
	}
	if asJSON {
		imp.printJSON(false)
	} else {
		fmt.Fprintln(c.stdout, n)
	}
	if n.Rejected > 0 || len(fileErrs) > 0 {
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
	listMax  int          // most rejections and conflicts listed per file
	counts   ingest.Tally // the whole run
	started  time.Time
	terminal bool          // stderr is a terminal: progress on one line, every second
	every    time.Duration // otherwise a progress line this often
	lastShow time.Time

	// The current file: its counts and listed lines (ingest's report, as an
	// admin import job keeps them), and how far it has been read, for percent and ETA.
	file0 *ingest.Report
	files []importedFile // every file done, for --json
	read  *ingest.CountingReader
	size  int64 // -1 when unknown (standard input)
	begun time.Time
}

// file streams one file: decode, validate a batch on every core, store it.
// Decoding and validation of the next batch overlap with storing this one.
func (imp *importer) file(ctx context.Context, name string) error {
	imp.file0, imp.size, imp.begun = &ingest.Report{Input: displayName(name), Max: imp.listMax}, -1, time.Now()
	r, closeInput, err := openInput(name, imp.c.stdin)
	if err != nil {
		return err
	}
	defer closeInput()
	if f, ok := r.(*os.File); ok && name != "-" {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			imp.size = fi.Size()
		}
	}
	imp.read = ingest.NewCountingReader(r)
	dec := stix.NewDecoder(imp.read, imp.limits)
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
		if err := imp.store(ctx, b.index, b.b); err != nil {
			for range batches { //nolint:revive // drain so the decoder goroutine ends
			}
			return err
		}
	}
	return decodeErr
}

// store stores one checked batch; an object the store refuses is a rejection,
// and only the store failing as a whole is an error.
func (imp *importer) store(ctx context.Context, index []int, b *ingest.Batch) error {
	outs, err := imp.in.Store(ctx, b)
	if err != nil {
		return storeError{err}
	}
	for i, o := range outs {
		imp.counts.Add(o)
		// A rejected or conflicting object is listed by its 1-based position
		// in the file, up to the bound; STIX 2.0 objects get one line per file.
		if line := imp.file0.Add(index[i], o); line != "" {
			fmt.Fprintln(imp.c.stderr, line)
		}
	}
	imp.showProgress(false)
	return nil
}

// fileSummary closes one file: its STIX 2.0 line, how many lines were not
// listed, and its counts when the run has several files.
func (imp *importer) fileSummary(name string, several bool) {
	closing := imp.file0.Closing()
	for _, line := range closing {
		fmt.Fprintln(imp.c.stderr, line)
	}
	imp.files = append(imp.files, importedFile{File: displayName(name), Tally: imp.file0.Tally,
		Lines: append(append([]string{}, imp.file0.Lines...), closing...)})
	if several {
		fmt.Fprintf(imp.c.stderr, "%s: %s\n", displayName(name), imp.file0.Tally)
	}
}

// showProgress reports the count and rate: on a terminal on one line, rewritten
// every second; elsewhere (compose exec -T, CI, nohup) a line every imp.every,
// with percent and ETA of the current file when its size is known.
func (imp *importer) showProgress(final bool) {
	now := time.Now()
	n := imp.counts.Total()
	rate := float64(n) / max(now.Sub(imp.started).Seconds(), 1e-9)
	if imp.terminal {
		if !final && now.Sub(imp.lastShow) < time.Second {
			return
		}
		imp.lastShow = now
		end := "\r"
		if final {
			end = "\n"
		}
		fmt.Fprintf(imp.c.stderr, "\x1b[2K%d objects, %.0f objects/s%s", n, rate, end)
		return
	}
	if final || now.Sub(imp.lastShow) < imp.every {
		return
	}
	imp.lastShow = now
	line := fmt.Sprintf("import: %d objects, %.0f objects/s", n, rate)
	if imp.size > 0 && imp.read != nil {
		done := imp.read.Count()
		pct := 100 * float64(done) / float64(imp.size)
		line += fmt.Sprintf(", %.0f%% of the file", min(pct, 100))
		if bps := float64(done) / max(now.Sub(imp.begun).Seconds(), 1e-9); bps > 0 && done < imp.size {
			line += fmt.Sprintf(", about %s left", (time.Duration(float64(imp.size-done)/bps) * time.Second).Round(time.Second))
		}
	}
	fmt.Fprintln(imp.c.stderr, line)
}

// importedFile is one file's part of the --json summary.
type importedFile struct {
	File string `json:"file"`
	ingest.Tally
	Lines []string `json:"lines"` // rejected and conflicting objects as stderr lists them
}

// printJSON writes the --json summary: the same counts as the text one.
func (imp *importer) printJSON(interrupted bool) {
	out := struct {
		ingest.Tally
		Interrupted bool           `json:"interrupted,omitempty"` // counts are what was committed before
		Files       []importedFile `json:"files"`
	}{imp.counts, interrupted, imp.files}
	if out.Files == nil {
		out.Files = []importedFile{}
	}
	enc := json.NewEncoder(imp.c.stdout)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out)
}
