// Package ingest turns decoded STIX objects into stored versions, with an
// outcome and a reason for every object. Every write path goes through it (the
// import command, TAXII Add Objects, admin imports, upstream pulls), so
// validation, feed filters, provenance, the store's per-object refusals and
// what counts as a conflict mean the same everywhere.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/inthreat/taxii-server/internal/observables"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// Options says who writes and what a batch may hold.
type Options struct {
	// Source is recorded on every stored version: a key's source, "import", or
	// the name of an upstream feed. Required.
	Source string
	// Confined refuses an object of which a stored version came from another
	// source. Writers that are not admins are confined; admins and the CLI are not.
	Confined bool
	// Filter, when set, refuses objects of types the feed does not show: a
	// collection takes only what it would serve back. nil: every type.
	Filter *store.FeedFilter
}

// Ingester stores batches of decoded objects for one writer. It holds no state
// between batches and is safe for concurrent use.
type Ingester struct {
	st   store.Objects
	v    *stix.Validator
	opts Options
}

// New returns an Ingester writing to st. v validates every object; it is
// shared, as compiling one costs a tenth of a second.
func New(st store.Objects, v *stix.Validator, opts Options) (*Ingester, error) {
	if st == nil || v == nil {
		return nil, errors.New("ingest: nil store or validator")
	}
	if opts.Source == "" {
		return nil, errors.New("ingest: no source: every stored version records where it came from")
	}
	return &Ingester{st: st, v: v, opts: opts}, nil
}

// Item is one element of the input, in order: its bytes, or why the decoder
// could not read it (only that element is lost, e.g. a *stix.ElementError).
type Item struct {
	Raw []byte
	Err error
}

// Result is what happened to one object.
type Result int

const (
	Rejected  Result = iota // not stored: see Outcome.Reason
	Added                   // stored as a new version
	Unchanged               // this version was already stored, with the same content
	// Conflicting: this version (same id and modified) was already stored with
	// other content; the first stays and this one is not stored (see Reason).
	// Content is compared as JSON values: stix.Digest says what counts.
	Conflicting
)

// Outcome is the fate of one input item.
type Outcome struct {
	Result Result
	ID     string // the STIX id, when readable
	// Version is modified, else created; for a stored object without either,
	// its date_added, the version TAXII shows for it.
	Version string
	Reason  string // why it was rejected or conflicts, without the id
	// OldSTIX: rejected because its spec_version is not 2.1 (STIX 2.0 content).
	OldSTIX   bool
	DateAdded int64 // µs since the epoch, of the stored version (the first, for a conflict); 0 when rejected
}

// Batch is a validated batch, ready to store: Check is pure CPU and can run
// ahead of Store, e.g. on the next batch of a file while this one is stored.
type Batch struct {
	Outcomes []Outcome      // one per item; final for rejected items
	objs     []store.Object // what goes to the store
	at       []int          // index in Outcomes of each of objs
}

// Check validates items on every core and applies the feed filter.
func (in *Ingester) Check(items []Item) *Batch {
	raws := make([][]byte, 0, len(items))
	for _, it := range items {
		if it.Err == nil {
			raws = append(raws, it.Raw)
		}
	}
	results := in.v.ValidateAll(raws)
	b := &Batch{Outcomes: make([]Outcome, len(items))}
	k := 0
	for i, it := range items {
		o := &b.Outcomes[i]
		if it.Err != nil {
			o.Reason = it.Err.Error()
			continue
		}
		res := results[k]
		k++
		if res.Err != nil {
			o.ID, o.Version = identify(it.Raw)
			o.Reason = validationMessage(res.Err)
			var se *stix.Error
			if errors.As(res.Err, &se) {
				o.OldSTIX = se.Path == "/spec_version"
				if o.ID == "" { // not JSON: the validator may still have read the id
					o.ID = se.ID
				}
			}
			continue
		}
		m := res.Meta
		o.ID, o.Version = m.ID, store.ObjectVersion(m.Created, m.Modified)
		if f := in.opts.Filter; f != nil && !f.Allows(m.Type) {
			o.Reason = fmt.Sprintf("type %s is not accepted by this collection (it takes %s)", m.Type, strings.Join(f.Types, ", "))
			continue
		}
		b.objs = append(b.objs, store.Object{ID: m.ID, Type: m.Type, SpecVersion: m.SpecVersion,
			Created: m.Created, Modified: m.Modified, Raw: it.Raw,
			Source: in.opts.Source, Confined: in.opts.Confined,
			Observables: observables.OfType(m.Type, it.Raw), Digest: res.Digest})
		b.at = append(b.at, i)
	}
	return b
}

// Store stores the valid objects of b in one store call and returns every
// item's outcome. An object the store refuses is rejected with its reason and
// the others are stored; an error means the store failed and nothing of b was
// stored.
func (in *Ingester) Store(ctx context.Context, b *Batch) ([]Outcome, error) {
	if len(b.objs) == 0 {
		return b.Outcomes, nil
	}
	return in.StoreWith(ctx, b, in.st.AddObjects)
}

// StoreWith is Store with add in place of the store's AddObjects, for a writer
// that stores more in the same transaction (an upstream source's watermark).
// add is called even when no object of b is valid.
func (in *Ingester) StoreWith(ctx context.Context, b *Batch, add func(context.Context, []store.Object) ([]store.AddOutcome, error)) ([]Outcome, error) {
	stored, err := add(ctx, b.objs)
	if err == nil && len(stored) != len(b.objs) {
		err = fmt.Errorf("the store answered %d outcomes for %d objects", len(stored), len(b.objs))
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	for j, s := range stored {
		apply(&b.Outcomes[b.at[j]], s)
	}
	return b.Outcomes, nil
}

// apply completes the outcome of a checked object with what the store did.
func apply(o *Outcome, s store.AddOutcome) {
	switch {
	case s.Refused != nil:
		o.Reason = refusal(o.ID, s.Refused)
		return
	case s.Added:
		o.Result = Added
	case s.Conflict:
		o.Result = Conflicting
	default:
		o.Result = Unchanged
	}
	o.DateAdded = s.DateAdded
	if o.Version == "" {
		// No created or modified: the version the read side shows (TAXII 2.1
		// 4.3.1: "a value for the version that is consistent to the server").
		o.Version = store.FormatDateAdded(s.DateAdded)
	}
	if o.Result == Conflicting {
		o.Reason = fmt.Sprintf("version %s is already stored with other content; the first version is kept", o.Version)
	}
}

// Ingest checks and stores items: Check then Store.
func (in *Ingester) Ingest(ctx context.Context, items []Item) ([]Outcome, error) {
	return in.Store(ctx, in.Check(items))
}

// Counts tallies outcomes.
func Counts(outs []Outcome) Tally {
	var t Tally
	for _, o := range outs {
		t.Add(o)
	}
	return t
}

// refusal is the reason of a store refusal, as a writer should read it.
func refusal(id string, err error) string {
	if errors.Is(err, store.ErrOtherSource) {
		return fmt.Sprintf("object %s belongs to another source", id)
	}
	return err.Error()
}

// identify reads what it can of an invalid object's id and version, for its
// outcome; strings only, "" for anything else.
func identify(raw []byte) (id, version string) {
	var o struct {
		ID       any `json:"id"`
		Created  any `json:"created"`
		Modified any `json:"modified"`
	}
	if json.Unmarshal(raw, &o) != nil {
		return "", ""
	}
	str := func(v any) string { s, _ := v.(string); return s }
	return str(o.ID), store.ObjectVersion(str(o.Created), str(o.Modified))
}

// validationMessage is the reason of a validation failure, without the id the
// outcome already carries.
func validationMessage(err error) string {
	var se *stix.Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	if se.Path != "" {
		return se.Path + ": " + se.Reason
	}
	return se.Reason
}
