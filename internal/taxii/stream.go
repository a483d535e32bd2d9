package taxii

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
)

// page describes one paged resource: the envelope or versions head, and how one
// row becomes one list item. Items are appended to a scratch buffer or written
// straight from the row, so memory does not grow with the page size.
type page struct {
	head string
	item func(p *pageWriter, row store.Row) error
}

var (
	// objectsPage is the TAXII envelope with each object's stored bytes, never re-encoded.
	objectsPage = page{head: `{"objects":[`, item: func(p *pageWriter, row store.Row) error { return p.write(row.Raw) }}
	// manifestPage is the envelope of manifest records (spec 5.3.1).
	manifestPage = page{head: `{"objects":[`, item: (*pageWriter).manifestRecord}
	// versionsPage is the versions resource (spec 5.8.1).
	versionsPage = page{head: `{"versions":[`, item: func(p *pageWriter, row store.Row) error {
		p.scratch = appendVersion(p.scratch[:0], row)
		return p.write(p.scratch)
	}}
)

// pageWriter assembles one page in a spool (see spool.go): nothing reaches the
// client before the store has delivered every row, so a failure of the store is
// always a clean error answer.
type pageWriter struct {
	w       http.ResponseWriter
	out     *spool
	items   int
	scratch []byte
}

// The date_added headers of a page, spelled as the spec spells them: they are
// set as map keys, since Header.Set would send X-Taxii-..., and some clients
// look them up case-sensitively.
const (
	headerDateAddedFirst = "X-TAXII-Date-Added-First"
	headerDateAddedLast  = "X-TAXII-Date-Added-Last"
)

// begin sets the date_added headers of a non-empty page and writes the head.
func (p *pageWriter) begin(pg store.Page, head string) {
	hdr := p.w.Header()
	hdr[headerDateAddedFirst] = []string{store.FormatDateAdded(pg.First)}
	hdr[headerDateAddedLast] = []string{store.FormatDateAdded(pg.Last)}
	_, _ = p.out.WriteString(head)
}

// write adds one list item.
func (p *pageWriter) write(item []byte) error {
	if p.items > 0 {
		if err := p.out.WriteByte(','); err != nil {
			return err
		}
	}
	p.items++
	_, err := p.out.Write(item)
	return err
}

// end closes the list and adds more and next.
func (p *pageWriter) end(more bool, next string) error {
	if more {
		_, _ = p.out.WriteString(`],"more":true,"next":`)
		p.scratch = appendJSONString(p.scratch[:0], next)
		_, _ = p.out.Write(p.scratch)
		return p.out.WriteByte('}')
	}
	_, err := p.out.WriteString(`],"more":false}`)
	return err
}

// abandon drops the page so that an error can be answered instead.
func (p *pageWriter) abandon() {
	p.out.reset()
	delete(p.w.Header(), headerDateAddedFirst)
	delete(p.w.Header(), headerDateAddedLast)
}

func (p *pageWriter) manifestRecord(row store.Row) error {
	b := append(p.scratch[:0], `{"id":`...)
	b = appendJSONString(b, row.ID)
	b = append(b, `,"date_added":"`...)
	b = appendDateAdded(b, row.DateAdded)
	b = append(b, `","version":`...)
	b = appendVersion(b, row)
	b = append(b, `,"media_type":"`+MediaTypeSTIX+`"}`...)
	p.scratch = b
	return p.write(b)
}

// appendVersion appends the version string of row: modified, else created,
// else (objects without either) its date_added.
func appendVersion(b []byte, row store.Row) []byte {
	if row.Version != "" {
		return appendJSONString(b, row.Version)
	}
	b = append(b, '"')
	b = appendDateAdded(b, row.DateAdded)
	return append(b, '"')
}

func appendDateAdded(b []byte, us int64) []byte {
	return time.UnixMicro(us).UTC().AppendFormat(b, store.DateAddedLayout)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Store values are valid UTF-8
// (they came from JSON); anything else gets U+FFFD for each bad byte.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// servePage runs q into a spool, in date_added order: the date headers and
// head, one item per row, then more and next; once the store is done, the page
// is written to the client. An empty page is {} after ifEmpty (nil, or a 404
// for an object that does not exist) has had its say.
func (h *handler) servePage(w http.ResponseWriter, r *http.Request, q store.Query, b binding, kind page, ifEmpty func() error) {
	p := &pageWriter{w: w, out: newSpool(h.pages)}
	defer p.out.release()
	var summary store.Page
	err := h.st.ScanObjects(r.Context(), q,
		func(pg store.Page) error {
			summary = pg
			if pg.Count > 0 {
				p.begin(pg, kind.head)
			}
			return nil
		},
		func(row store.Row) error { return kind.item(p, row) })
	if err == nil && summary.Count == 0 {
		if ifEmpty != nil {
			err = ifEmpty()
		}
		if err == nil {
			// Spec 3.2: every 200 of these endpoints carries both date headers.
			// An empty page has no first or last object: both name the query's
			// lower bound (added_after or the cursor's position, else the epoch),
			// so that a client re-polling with added_after = X-TAXII-Date-Added-Last
			// asks the same question again instead of starting over.
			bound := store.FormatDateAdded(max(q.AddedAfter, q.After, 0))
			w.Header()[headerDateAddedFirst] = []string{bound}
			w.Header()[headerDateAddedLast] = []string{bound}
			h.writeJSON(w, r, http.StatusOK, struct{}{})
			return
		}
	}
	if err == nil {
		next := ""
		if summary.More {
			next = h.cursors.encode(summary.Last, b)
		}
		err = p.end(summary.More, next)
	}
	if err != nil {
		p.abandon()
		h.fail(w, r, err)
		return
	}
	if h.sendSpool(w, r, p.out) {
		obs.FromContext(r.Context()).AddServed(p.items)
	}
}

// sendSpool answers 200 with the body in out, and reports whether all of it
// was written.
func (h *handler) sendSpool(w http.ResponseWriter, r *http.Request, out *spool) bool {
	w.Header().Set("Content-Length", strconv.FormatInt(out.size, 10))
	w.WriteHeader(http.StatusOK)
	if err := out.writeTo(w, h.opts.PageWriteTimeout); err != nil {
		// The rows are all read: only the client's side can fail here, or the
		// temporary file. The short body tells the client the page is cut.
		fields := []zap.Field{zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err)}
		if clientLeft(r, err) {
			h.log.Warn("page stream abandoned by client", fields...)
		} else {
			h.log.Error("page stream failed after the response started", fields...)
		}
		return false
	}
	return true
}

// objectExists reports whether the feed shows any version of id, as a 404 when not.
func (h *handler) objectExists(r *http.Request, f store.Feed, id string) func() error {
	return func() error {
		found := false
		q := store.Query{Feed: f.Filter, IDs: []string{id}, Versions: store.VersionMatch{All: true}, Limit: 1, NoRaw: true}
		err := h.st.ScanObjects(r.Context(), q, func(pg store.Page) error { found = pg.Count > 0; return nil },
			func(store.Row) error { return nil })
		if err != nil {
			return err
		}
		if !found {
			return notFound("There is no object %q in this collection.", id)
		}
		return nil
	}
}
