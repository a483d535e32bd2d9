package ingest

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/inthreat/taxii-server/internal/admit"
	"github.com/inthreat/taxii-server/internal/store"
)

// BatchBytes is about how many bytes of objects a writer should hand to
// Staged.Add at a time: the memory a request holds while it is read and
// checked, and the size of each batch written to the store.
const BatchBytes = 4 << 20

// spoolMemory is how much of one request's checked objects may stay in
// memory (the server-wide budget given to Stage permitting); the rest goes to
// an unlinked temporary file, so a large request costs disk, not memory (the
// operating system's page cache serves it back).
const spoolMemory = 4 << 20

// Staged is one request on its way to the store: its batches are checked as
// they are read, and the objects to store wait on a spool (memory, then a
// temporary file) until Store writes them all in one transaction. A request's
// memory is so its outcomes and one batch, not its body, and it is still
// stored whole or not at all. Not safe for concurrent use; Close releases it.
//
// The spool is a sequence of segments, one per batch: a 4-byte little-endian
// length, then the count of objects and the objects (appendObject).
type Staged struct {
	in       *Ingester
	budget   *admit.Bytes // server-wide memory of spools; nil: none
	outcomes []Outcome
	at       []int32  // index in outcomes of each spooled object, in spool order
	segs     [][]byte // the segments in memory, before any in the file
	held     int64    // bytes of segs taken from budget
	file     *os.File
	fw       *bufio.Writer
	scratch  []byte // a segment being encoded, once the spool is a file
}

// Stage starts a request. Segments stay in memory while budget (shared by
// every request in flight) and spoolMemory allow; nil budget: spoolMemory only.
func (in *Ingester) Stage(budget *admit.Bytes) *Staged { return &Staged{in: in, budget: budget} }

// Add checks items, the next elements of the request, and spools the objects
// to store. An error (of the spool's file) fails the request.
func (s *Staged) Add(items []Item) error {
	b := s.in.Check(items)
	base := len(s.outcomes)
	s.outcomes = append(s.outcomes, b.Outcomes...)
	if len(b.objs) == 0 {
		return nil
	}
	if s.scratch == nil {
		est := 16
		for _, o := range b.objs {
			est += len(o.Raw) + len(o.Digest) + len(o.ID) + 96 + 64*len(o.Observables)
		}
		s.scratch = make([]byte, 0, est) // most batches fit: one allocation, held at its size
	}
	seg := append(s.scratch[:0], 0, 0, 0, 0)
	seg = binary.AppendUvarint(seg, uint64(len(b.objs)))
	for j, o := range b.objs {
		seg = appendObject(seg, o)
		s.at = append(s.at, int32(base+b.at[j]))
	}
	if uint64(len(seg)-4) > math.MaxUint32 {
		return errors.New("ingest: spool: batch too large")
	}
	binary.LittleEndian.PutUint32(seg, uint32(len(seg)-4))
	if s.file == nil {
		n := int64(cap(seg))
		if s.held+n <= spoolMemory && (s.budget == nil || s.budget.TryAcquire(n)) {
			s.held += n
			s.segs = append(s.segs, seg)
			s.scratch = nil // the segment is the spool's now
			return nil
		}
		if err := s.spill(); err != nil {
			return err
		}
	}
	s.scratch = seg
	if _, err := s.fw.Write(seg); err != nil {
		return fmt.Errorf("ingest: spool: %w", err)
	}
	return nil
}

// Outcomes are the outcomes so far, one per item added: final for rejected
// items, and for the others until Store.
func (s *Staged) Outcomes() []Outcome { return s.outcomes }

// Store writes the spooled objects in one store transaction, a batch at a
// time, and returns every item's outcome. An error means nothing was stored.
func (s *Staged) Store(ctx context.Context) ([]Outcome, error) {
	if len(s.at) == 0 {
		return s.outcomes, nil
	}
	var r *bufio.Reader
	if s.file != nil {
		if err := s.fw.Flush(); err != nil {
			return nil, fmt.Errorf("ingest: spool: %w", err)
		}
		if _, err := s.file.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("ingest: spool: %w", err)
		}
		r = bufio.NewReaderSize(s.file, 64<<10)
	}
	segs := s.segs
	stored, err := s.in.st.AddObjectBatches(ctx, func() ([]store.Object, error) {
		if len(segs) > 0 {
			seg := segs[0]
			segs = segs[1:]
			return s.decodeSegment(seg[4:])
		}
		if r == nil {
			return nil, nil
		}
		return s.readSegment(r)
	})
	if err == nil && len(stored) != len(s.at) {
		err = fmt.Errorf("the store answered %d outcomes for %d objects", len(stored), len(s.at))
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	for k, st := range stored {
		apply(&s.outcomes[s.at[k]], st)
	}
	return s.outcomes, nil
}

// Close drops the spool and gives its memory back to the budget.
func (s *Staged) Close() {
	if s.file != nil {
		_ = s.file.Close()
		s.file, s.fw = nil, nil
	}
	if s.budget != nil {
		s.budget.Release(s.held)
	}
	s.segs, s.held, s.scratch = nil, 0, nil
}

// spill moves the spool to a temporary file, removed at once so that nothing
// is left behind even if the process dies (on unix the open file lives on).
func (s *Staged) spill() error {
	f, err := os.CreateTemp("", "taxii-add-*")
	if err != nil {
		return fmt.Errorf("ingest: spool: %w", err)
	}
	_ = os.Remove(f.Name())
	s.file, s.fw = f, bufio.NewWriterSize(f, 64<<10)
	return nil
}

// readSegment reads the next segment of the file; none at its end.
func (s *Staged) readSegment(r *bufio.Reader) ([]store.Object, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("ingest: spool: %w", err)
	}
	// A fresh buffer per batch: the objects' Raw point into it.
	seg := make([]byte, binary.LittleEndian.Uint32(head[:]))
	if _, err := io.ReadFull(r, seg); err != nil {
		return nil, fmt.Errorf("ingest: spool: %w", err)
	}
	return s.decodeSegment(seg)
}

// decodeSegment decodes the objects of seg, which their Raw point into.
func (s *Staged) decodeSegment(seg []byte) ([]store.Object, error) {
	d := segmentDecoder{b: seg}
	n := d.uvarint()
	if n > uint64(len(seg)) {
		return nil, errors.New("ingest: spool: corrupt segment")
	}
	objs := make([]store.Object, n)
	for i := range objs {
		objs[i] = d.object()
		objs[i].Source, objs[i].Confined = s.in.opts.Source, s.in.opts.Confined
	}
	if d.bad {
		return nil, errors.New("ingest: spool: corrupt segment")
	}
	return objs, nil
}

// appendObject encodes what the store needs of o but its source, which is the
// writer's: lengths as uvarints, then the bytes.
func appendObject(b []byte, o store.Object) []byte {
	for _, s := range []string{o.ID, o.Type, o.SpecVersion, o.Created, o.Modified} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(o.Raw)))
	b = append(b, o.Raw...)
	// The digest validation computed, so that the store need not compute it
	// again; "" decodes as nil, which lets the store compute it.
	b = binary.AppendUvarint(b, uint64(len(o.Digest)))
	b = append(b, o.Digest...)
	b = binary.AppendUvarint(b, uint64(len(o.Observables)))
	for _, ob := range o.Observables {
		for _, s := range []string{ob.Type, ob.Value, ob.List, ob.Entry} {
			b = appendString(b, s)
		}
		rev := byte(0)
		if ob.Revoked {
			rev = 1
		}
		b = append(b, rev)
		b = binary.AppendVarint(b, ob.ValidUntil)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// segmentDecoder reads what appendObject wrote; bad records a short segment.
type segmentDecoder struct {
	b   []byte
	bad bool
}

func (d *segmentDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *segmentDecoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *segmentDecoder) string() string { return string(d.bytes()) }

func (d *segmentDecoder) object() store.Object {
	o := store.Object{ID: d.string(), Type: d.string(), SpecVersion: d.string(), Created: d.string(), Modified: d.string()}
	o.Raw = d.bytes()
	if dg := d.bytes(); len(dg) > 0 {
		o.Digest = dg
	}
	if n := d.uvarint(); n > 0 && !d.bad {
		o.Observables = make([]store.Observable, 0, min(n, uint64(len(d.b))))
		for range n {
			ob := store.Observable{Type: d.string(), Value: d.string(), List: d.string(), Entry: d.string()}
			if len(d.b) == 0 {
				d.bad = true
				break
			}
			ob.Revoked, d.b = d.b[0] == 1, d.b[1:]
			v, k := binary.Varint(d.b)
			if k <= 0 {
				d.bad = true
				break
			}
			ob.ValidUntil, d.b = v, d.b[k:]
			o.Observables = append(o.Observables, ob)
		}
	}
	return o
}
