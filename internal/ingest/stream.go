package ingest

import (
	"context"
	"errors"
	"io"
	"sync/atomic"

	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// Stream reads every object of r (any container stix.NewDecoder reads: a
// bundle, a TAXII envelope, an array, JSON lines) and stores them in batches
// of batch objects, adding each outcome to rep; r is never held whole. progress,
// when set, is called after each batch. An element the decoder cannot read is
// rejected alone. An input that cannot be read to its end returns an
// *InputError once the objects before it are stored; the store failing returns
// its error.
func (in *Ingester) Stream(ctx context.Context, r io.Reader, lim stix.Limits, batch int, rep *Report, progress func()) error {
	dec := stix.NewDecoder(r, lim)
	items := make([]Item, 0, batch)
	pos := make([]int, 0, batch)
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		outs, err := in.Ingest(ctx, items)
		if err != nil {
			return err
		}
		for i, o := range outs {
			rep.Add(pos[i], o)
		}
		items, pos = items[:0], pos[:0]
		if progress != nil {
			progress()
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, idx, err := dec.Next()
		var elemErr *stix.ElementError
		switch {
		case errors.Is(err, io.EOF):
			return flush()
		case errors.As(err, &elemErr):
			items, pos = append(items, Item{Err: elemErr}), append(pos, idx)
		case err != nil:
			if ferr := flush(); ferr != nil {
				return ferr
			}
			return &InputError{Err: err}
		default:
			items, pos = append(items, Item{Raw: raw}), append(pos, idx)
		}
		if len(items) >= batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// InputError is an input Stream could not read to its end (not JSON it can
// read, or a failed read): the input's fault, not the store's.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// CountingReader counts the bytes read through it, for an import's progress
// while another goroutine reads.
type CountingReader struct {
	r io.Reader
	n atomic.Int64
}

// NewCountingReader counts what is read from r.
func NewCountingReader(r io.Reader) *CountingReader { return &CountingReader{r: r} }

func (c *CountingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Count is the number of bytes read so far.
func (c *CountingReader) Count() int64 { return c.n.Load() }

// AnalyzeAfter is how many objects stored by one import make it refresh the
// store's planner statistics: without them, the first pages of a freshly
// loaded feed can get poor plans until the database's autovacuum runs.
const AnalyzeAfter = 10_000

// AfterImport is the one rule both importers (the command line and the admin
// API's import jobs) apply when an import ends.
func AfterImport(ctx context.Context, st store.Maintenance, imported int) error {
	if imported < AnalyzeAfter {
		return nil
	}
	return st.Analyze(ctx)
}
