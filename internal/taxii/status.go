package taxii

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
)

// statusComplete is the status of every request: they are processed before the
// answer (addObjects), so none is ever "pending".
const statusComplete = "complete"

// statusDetails is the status-details type of spec 4.3.1. id and version are
// required; an element that is not a STIX object has neither, and shows "".
type statusDetails struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// statusLists are the members of each store.StatusList, in its order.
var statusLists = [...]struct{ count, list string }{
	store.StatusSuccesses: {"success_count", "successes"},
	store.StatusFailures:  {"failure_count", "failures"},
	store.StatusPendings:  {"pending_count", "pendings"},
}

// statusBody is where a status resource is written: a spool for Get Status, a
// buffer for the answer to Add Objects.
type statusBody interface {
	io.Writer
	io.StringWriter
}

// statusWriter writes the status resource of spec 4.3.1 entry by entry, so
// that a status of any size costs one entry of memory besides out: the head
// (begin), every entry in list order (entry), then end. The members are those
// of the spec in its order; empty lists are omitted (they are optional), the
// counts are always there. Strings are encoded by encoding/json without HTML
// escaping, as every other TAXII answer.
type statusWriter struct {
	out     statusBody
	counts  [len(statusLists)]int
	list    int          // the list being written: -1 before the first
	open    bool         // its array has begun
	scratch bytes.Buffer // what enc wrote
	enc     *json.Encoder
	num     [20]byte
	err     error // the first error of out
}

func newStatusWriter(out statusBody) *statusWriter {
	w := &statusWriter{out: out, list: -1}
	w.enc = json.NewEncoder(&w.scratch)
	w.enc.SetEscapeHTML(false)
	return w
}

func (w *statusWriter) str(s string) {
	if w.err == nil {
		_, w.err = w.out.WriteString(s)
	}
}

func (w *statusWriter) int(n int) {
	if w.err == nil {
		_, w.err = w.out.Write(strconv.AppendInt(w.num[:0], int64(n), 10))
	}
}

// json writes v as encoding/json does, without its newline.
func (w *statusWriter) json(v any) {
	if w.err != nil {
		return
	}
	w.scratch.Reset()
	if w.err = w.enc.Encode(v); w.err == nil {
		_, w.err = w.out.Write(bytes.TrimSuffix(w.scratch.Bytes(), []byte("\n")))
	}
}

// begin writes the members before the lists.
func (w *statusWriter) begin(st store.Status) error {
	w.counts = [...]int{st.SuccessCount, st.FailureCount, st.PendingCount}
	w.str(`{"id":`)
	w.json(st.ID)
	w.str(`,"status":`)
	w.json(st.Status)
	if !st.RequestTimestamp.IsZero() {
		w.str(`,"request_timestamp":"` + st.RequestTimestamp.UTC().Format(store.DateAddedLayout) + `"`)
	}
	w.str(`,"total_count":`)
	w.int(st.TotalCount)
	return w.err
}

// advance closes the lists before list to, writing the count of each list it passes.
func (w *statusWriter) advance(to int) {
	for w.list < to {
		if w.open {
			w.str("]")
			w.open = false
		}
		w.list++
		if w.list < len(statusLists) {
			w.str(`,"` + statusLists[w.list].count + `":`)
			w.int(w.counts[w.list])
		}
	}
}

// entry writes one entry of list l; the entries come list by list.
func (w *statusWriter) entry(l store.StatusList, o store.StatusObject) error {
	if int(l) < w.list || int(l) >= len(statusLists) {
		return fmt.Errorf("status entry of list %d while writing list %d", l, w.list)
	}
	w.advance(int(l))
	if w.open {
		w.str(",")
	} else {
		w.str(`,"` + statusLists[l].list + `":[`)
		w.open = true
	}
	w.json(statusDetails(o))
	return w.err
}

// end closes the resource.
func (w *statusWriter) end() error {
	w.advance(len(statusLists))
	w.str("}")
	return w.err
}

// writeStatus writes a whole status held in memory.
func writeStatus(out statusBody, st store.Status) error {
	w := newStatusWriter(out)
	if err := w.begin(st); err != nil {
		return err
	}
	for l, list := range [...][]store.StatusObject{st.Successes, st.Failures, st.Pendings} {
		for _, o := range list {
			if err := w.entry(store.StatusList(l), o); err != nil {
				return err
			}
		}
	}
	return w.end()
}

// status is Get Status (spec 4.3). A status is readable for StatusTTL after its
// request was processed, by every key that may read the collection the objects
// were added to, admin keys included (a feed limit binds them too); to anyone
// else, as after expiry, it does not exist (404). Status ids are UUIDs; anything else is 404 without a
// database query.
//
// The status is read entry by entry into a spool, as a page is (spool.go), but
// with a budget of its own (StatusBufferMemory), then a temporary file: a slow
// client holds neither the database nor a status-read turn, and statuses in
// flight cost the memory of that budget however many and large they are.
func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	raw := pathParam(r, "status")
	missing := notFound("There is no status %q in this API root: it never existed, has expired, or belongs to a collection your API key may not read.", raw)
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		h.fail(w, r, missing)
		return
	}
	out := newSpool(h.statusBufs)
	defer out.release()
	err = h.spoolStatus(r, id.String(), out)
	if errors.Is(err, store.ErrNotFound) {
		err = missing
	}
	if err != nil {
		out.reset()
		h.fail(w, r, err)
		return
	}
	h.sendSpool(w, r, out)
}

// spoolStatus writes the status resource of id into out, in one of the
// MaxStatusReads turns: the turn is given back once the status is read, so a
// slow client holds its spool, not a turn.
func (h *handler) spoolStatus(r *http.Request, id string, out *spool) error {
	release, err := h.statusTurn(r)
	if err != nil {
		return err
	}
	defer release()
	sw := newStatusWriter(out)
	caller := auth.FromContext(r.Context())
	err = h.st.ScanStatus(r.Context(), id, h.opts.Now(), func(st store.Status) error {
		if !caller.CanRead(st.FeedID) {
			return store.ErrNotFound // no different from a status that does not exist
		}
		obs.FromContext(r.Context()).SetFeed(st.FeedID)
		return sw.begin(st)
	}, sw.entry)
	if err != nil {
		return err
	}
	return sw.end()
}
