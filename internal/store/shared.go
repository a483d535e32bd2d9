package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"
)

// WantsLatest reports whether v selects the latest version of each object:
// asked for with "last", and the default when nothing else is asked for.
func (v VersionMatch) WantsLatest() bool {
	if v.All {
		return false
	}
	return v.Last || (!v.First && len(v.Times) == 0 && len(v.DateAdded) == 0)
}

// SummarizePage turns the date_added values a query found, in order and at most
// limit+1 of them, into the page of the first limit: one more than the limit means
// more rows follow.
func SummarizePage(keys []int64, limit int) Page {
	var p Page
	if len(keys) > limit {
		p.More = true
		keys = keys[:limit]
	}
	p.Count = len(keys)
	if p.Count > 0 {
		p.First, p.Last = keys[0], keys[p.Count-1]
	}
	return p
}

// BeginPage summarises keys as SummarizePage does and hands the page to begin,
// as ScanObjects promises; rows reports whether any row is to stream. An error
// is begin's, as is.
func BeginPage(keys []int64, limit int, begin func(Page) error) (page Page, rows bool, err error) {
	page = SummarizePage(keys, limit)
	if err := begin(page); err != nil {
		return page, false, err
	}
	return page, page.Count > 0, nil
}

// statusObject is the stored JSON form of a StatusObject, the same in every store.
type statusObject struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
	Message string `json:"message,omitempty"`
}

// EncodeStatusObjects is the stored form of a status list: a JSON array, never null.
func EncodeStatusObjects(list []StatusObject) []byte {
	out := make([]statusObject, len(list))
	for i, o := range list {
		out[i] = statusObject(o)
	}
	b, _ := json.Marshal(out) // strings only: cannot fail
	return b
}

// ScanStatusObjects hands each entry of the list in r, as EncodeStatusObjects
// wrote it, to each in order, as entries of list l. It decodes one entry at a
// time: the entries in memory at once are one, whatever the list's length.
func ScanStatusObjects(r io.Reader, l StatusList, each func(StatusList, StatusObject) error) error {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return fmt.Errorf("decode status objects: not an array: %v %v", t, err)
	}
	for dec.More() {
		var o statusObject
		if err := dec.Decode(&o); err != nil {
			return fmt.Errorf("decode status objects: %w", err)
		}
		if err := each(l, StatusObject(o)); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("decode status objects: %w", err)
	}
	return nil
}

// CanonicalUUID returns the stored form (lower case, hyphenated) of a feed, key
// or status id, and false when s is not a UUID in its 36-character form. Lookups
// of a malformed id find nothing without asking the database.
func CanonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return strings.ToLower(u.String()), true
}

// DatabaseError is a database failure that no caller acts on: a store returns it
// for every driver error it does not map to a sentinel. Its text keeps the
// driver's message for the log, and Cause keeps the driver's error, but it does
// not unwrap to it: nothing above a store depends on a driver's error types.
type DatabaseError struct {
	Store string // "postgres", "sqlite"
	cause error
}

// DriverError wraps err, a driver's error, as a DatabaseError of the named store.
func DriverError(storeName string, err error) error {
	return &DatabaseError{Store: storeName, cause: err}
}

func (e *DatabaseError) Error() string { return e.Store + ": " + e.cause.Error() }

// Cause is the driver's error, for logs and debugging.
func (e *DatabaseError) Cause() error { return e.cause }

// Conflict is ErrConflict with the driver's message of the violated constraint.
func Conflict(err error) error { return fmt.Errorf("%w: %s", ErrConflict, err.Error()) }

// IsSentinel reports whether err is, or wraps, one of this package's sentinel
// errors: a store returns such an error unchanged (one returned from inside a
// transaction is already the store's own), never as a DatabaseError.
func IsSentinel(err error) bool {
	for _, s := range []error{ErrNotFound, ErrConflict, ErrBusy, ErrSchemaMismatch, ErrOtherSource, ErrLeaseLost} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// DrainBatches hands add every batch next gives, until an empty one, and
// collects the outcomes: the loop of AddObjectBatches, which both stores run
// inside their one transaction. nextErr is next's own error, to be returned as
// it was rather than read as a database error; err is add's.
func DrainBatches(next func() ([]Object, error), add func([]Object) ([]AddOutcome, error)) (out []AddOutcome, nextErr, err error) {
	for {
		objs, err := next()
		if err != nil {
			return nil, err, err
		}
		if len(objs) == 0 {
			return out, nil, nil
		}
		o, err := add(objs)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, o...)
	}
}
