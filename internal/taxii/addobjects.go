package taxii

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/ingest"
	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// addObjects is Add Objects (spec 5.5). The request is processed while the client
// waits: the body is streamed through the envelope decoder, every object is
// validated, the valid ones the collection's filter shows are stored in one
// transaction, and the status resource is stored; only then is 202 answered, with
// status "complete". A 202 therefore never covers an object that could still be
// lost. An error answer means nothing of the request was stored, with one
// exception: if the status cannot be stored after the objects were, the answer
// is a 500 although the objects are in. Either way a retry of the same envelope
// is safe: a version already stored counts as a success.
//
// What is refused as a whole (nothing stored), and what per object:
//   - 503 with Retry-After: the bodies of the Add Objects requests in flight
//     already take MaxAddBytes (a body without Content-Length counts as
//     max_content_length); this bounds the server's memory and spool files.
//   - 415: a Content-Type other than application/taxii+json[;version=2.1].
//   - 413: a body over max_content_length (by Content-Length before reading it,
//     otherwise once that many bytes were read).
//   - 422 (spec 5.5: "a malformed body, or other unprocessable content"): a body
//     that is not one UTF-8 JSON envelope with an objects array: not JSON,
//     truncated, invalid UTF-8 anywhere, no objects, objects not an array, data
//     after the envelope, and a STIX bundle (the spec wants an envelope; the
//     error says how to turn a bundle into one); more than MaxObjectsPerAdd
//     objects; and a request none of whose objects is STIX 2.1.
//   - Per-object failures, listed in the status with the reason: an element that
//     is not a JSON object, an object over the size, depth or property limits,
//     an invalid STIX object, one whose type the collection does not show
//     (a writable collection takes only what it would serve back), and one the
//     store refuses: for a key that is not an admin, an object of which a stored
//     version came from another source ("object X belongs to another source").
//     The other objects of the request are stored all the same.
//
// Objects are checked in batches as the body arrives and wait on a spool (past a
// few MB, a temporary file) until the body has been read whole; then they go to
// the store in batches of one transaction. A request's memory is so its
// outcomes and one batch, not its body, and no database connection or write
// lock waits on a slow client.
//
// Every version stored records the key's source (internal/ingest does the work).
//
// An empty objects array is a request with nothing to do: 202, total_count 0.
func (h *handler) addObjects(w http.ResponseWriter, r *http.Request) {
	requested := h.opts.Now().UTC()
	f, err := h.writableFeed(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !isTAXIIContent(r.Header.Get("Content-Type")) {
		h.fail(w, r, errUnsupportedMediaType)
		return
	}
	if r.ContentLength > h.opts.MaxContentLength {
		h.fail(w, r, tooLarge("body_too_large",
			"The body is %d bytes, more than max_content_length, %d bytes (see the API root); send the objects in several requests.",
			r.ContentLength, h.opts.MaxContentLength))
		return
	}
	release, err := h.admitBody(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer release()
	v, err := h.validator()
	if err != nil {
		h.fail(w, r, fmt.Errorf("taxii: STIX validator: %w", err))
		return
	}
	c := auth.FromContext(r.Context())
	in, err := ingest.New(h.st, v, ingest.Options{Source: c.Source, Confined: c.Confined(), Filter: &f.Filter})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	staged := in.Stage(h.addSpool)
	defer staged.Close()
	if err := h.readEnvelope(http.MaxBytesReader(w, r.Body, h.opts.MaxContentLength), staged.Add); err != nil {
		h.fail(w, r, err)
		return
	}
	if outs := staged.Outcomes(); unsupportedVersionOnly(outs) {
		// Spec 5.5: 422 when the server does not support the content's version, e.g.
		// STIX 2.0 sent to a STIX 2.1 server. A mixed request gets its status instead.
		h.fail(w, r, &apiError{status: http.StatusUnprocessableEntity, code: "unsupported_stix_version",
			description: fmt.Sprintf("None of the %d objects is STIX 2.1 (spec_version \"2.1\"): this server does not accept STIX 2.0 content. Nothing was stored.", len(outs))})
		return
	}
	outcomes, err := staged.Store(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}

	st := newStatus(f.ID, c.KeyID, requested, outcomes)
	st.ExpiresAt = h.opts.Now().UTC().Add(h.opts.StatusTTL)
	if err := h.st.CreateStatus(r.Context(), st); err != nil {
		// The objects are stored, the acknowledgement is not: answer an error, and
		// a retry of the same envelope succeeds object by object.
		h.fail(w, r, fmt.Errorf("taxii: store the status of an add request: %w", err))
		return
	}
	obs.FromContext(r.Context()).AddImported(st.SuccessCount, st.FailureCount)
	var body bytes.Buffer
	_ = writeStatus(&body, st) // strings into a buffer: cannot fail
	writeBody(w, http.StatusAccepted, body.Bytes())
}

// unsupportedVersionOnly reports whether every element of a non-empty request was
// refused for its STIX version alone.
func unsupportedVersionOnly(outs []ingest.Outcome) bool {
	for _, o := range outs {
		if !o.OldSTIX {
			return false
		}
	}
	return len(outs) > 0
}

// readEnvelope decodes the body and hands its elements to add in batches of
// about ingest.BatchBytes, so that a request holds one batch of objects in
// memory, not its body. A per-element problem (not an object, over a limit)
// becomes a failure of that element; anything else that keeps the decoder from
// reading on, invalid UTF-8 included, is the error of the whole request, as is
// one element too many.
func (h *handler) readEnvelope(body io.Reader, add func([]ingest.Item) error) error {
	dec := stix.NewEnvelopeDecoder(body, h.opts.ObjectLimits)
	var items []ingest.Item
	total, size := 0, 0
	flush := func() error {
		err := add(items)
		clear(items) // drop the batch's bytes
		items, size = items[:0], 0
		return err
	}
	for {
		raw, _, err := dec.Next()
		var ee *stix.ElementError
		switch {
		case err == io.EOF:
			return flush()
		case errors.As(err, &ee) && errors.Is(err, stix.ErrInvalidUTF8):
			// JSON text is UTF-8 (RFC 8259): the body is malformed, not this object.
			return &stix.DecodeError{Offset: ee.Offset, Line: ee.Line, Err: ee.Err,
				Reason: fmt.Sprintf("objects[%d]: %s; the body must be UTF-8", ee.Index, ee.Reason)}
		case errors.As(err, &ee):
			items = append(items, ingest.Item{Err: ee})
		case err != nil:
			return err
		default:
			items = append(items, ingest.Item{Raw: raw})
			size += len(raw)
		}
		if total++; total > h.opts.MaxObjectsPerAdd {
			// 422, not 413: spec 4.2.1 forbids 413 for a body under max_content_length.
			return &apiError{status: http.StatusUnprocessableEntity, code: "too_many_objects", description: fmt.Sprintf(
				"The envelope holds more than %d objects, the most one request may add; send them in several requests.",
				h.opts.MaxObjectsPerAdd)}
		}
		if size >= ingest.BatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// newStatus summarises a processed request: every item is a success or a failure.
func newStatus(feedID, keyID string, requested time.Time, outs []ingest.Outcome) store.Status {
	st := store.Status{
		ID:               uuid.NewString(),
		FeedID:           feedID,
		KeyID:            keyID,
		Status:           statusComplete,
		RequestTimestamp: requested,
		TotalCount:       len(outs),
	}
	for _, it := range outs {
		o := store.StatusObject{ID: statusText(it.ID, maxStatusID), Version: statusText(it.Version, maxStatusID)}
		switch it.Result {
		case ingest.Rejected:
			o.Message = statusText(it.Reason, maxStatusMessage)
			st.Failures = append(st.Failures, o)
		case ingest.Conflicting:
			// Not stored: the client must learn that its content is not what is served.
			o.Message = statusText("object "+it.ID+" "+it.Reason, maxStatusMessage)
			st.Failures = append(st.Failures, o)
		default: // added, or the same content stored before
			st.Successes = append(st.Successes, o)
		}
	}
	st.SuccessCount, st.FailureCount = len(st.Successes), len(st.Failures)
	return st
}

// Bounds on what a status entry repeats of an invalid object: a STIX id is at
// most 250+2+36 bytes, and a status must not grow with a client's garbage.
const (
	maxStatusID      = 300
	maxStatusMessage = 1000
)

// statusText makes s storable in every store (Postgres refuses NUL in text and
// JSON) and bounded: NUL becomes U+FFFD, and over max bytes s is cut on a
// character boundary and marked with "...".
func statusText(s string, max int) string {
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
