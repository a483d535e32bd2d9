package export

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/observables"
	"github.com/inthreat/taxii-server/internal/store"
)

// Formats of the feed objects endpoint.
const (
	formatJSON   = "json"
	formatText   = "text"
	formatCSV    = "csv"
	formatCustom = "custom"
)

// page is what one request asks of a feed.
type page struct {
	format   string
	template string
	limit    int
	cursor   string // as given; "" when none
	after    int64  // position: date_added > after
	query    store.Query
	revoked  bool // include revoked objects
	expired  bool // include expired indicators
}

// CheckFormat applies the rules of the format and template parameters, to a request
// or to the default a feed stores (feed create/update --format --template): a known
// format ("" is json), and for custom a template of at most maxTemplate bytes.
func CheckFormat(format, template string, maxTemplate int) error {
	switch format {
	case "", formatJSON, formatText, formatCSV:
		if template != "" {
			return badRequest("bad_template", "A template goes with format=custom only, not format=%s.", cmp.Or(format, formatJSON))
		}
		return nil
	case formatCustom:
	default:
		return badRequest("bad_format", "format %q is unknown: use json, text, csv or custom.", shorten(format))
	}
	if template == "" {
		return badRequest("bad_template", "format=custom needs a template, e.g. template=$name;$observables")
	}
	if len(template) > maxTemplate {
		return badRequest("template_too_long", "The template has %d bytes; at most %d are allowed.", len(template), maxTemplate)
	}
	return nil
}

func (h *handler) pageParams(r *http.Request, f store.Feed) (page, error) {
	q := r.URL.Query()
	p := page{format: formatJSON, limit: h.opts.DefaultLimit, revoked: true, expired: true}
	// Without a format the feed's default applies; a custom one takes the feed's
	// template unless the request brings its own.
	format, template := q.Get("format"), q.Get("template")
	if format == "" {
		format = f.ExportFormat
	}
	if format == formatCustom && template == "" && f.ExportFormat == formatCustom {
		template = f.ExportTemplate
	}
	if format != formatCustom {
		template = "" // other formats ignore it
	}
	if err := CheckFormat(format, template, h.opts.MaxTemplateLength); err != nil {
		return p, err
	}
	if format != "" {
		p.format, p.template = format, template
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, badRequest("bad_limit", "limit %q is not a whole number of at least 1.", shorten(v))
		}
		p.limit = min(n, h.opts.MaxLimit)
	}
	if v := q.Get("cursor"); v != "" {
		after, ok := decodeCursor(v)
		if !ok {
			return p, badRequest("bad_cursor", "cursor %q is not base64 of an ISO-8601 timestamp; send back a next_cursor, or base64 of a time such as 2026-01-01T00:00:00Z.", shorten(v))
		}
		p.cursor, p.after = v, after
	}
	if v := q.Get("modified_after"); v != "" {
		t, ok := parseISO(v)
		if !ok {
			return p, badRequest("bad_modified_after", "modified_after %q is not an ISO-8601 timestamp such as 2026-01-01T00:00:00Z.", shorten(v))
		}
		key, err := store.VersionKey(t.Format("2006-01-02T15:04:05.999999999Z"))
		if err != nil {
			return p, badRequest("bad_modified_after", "modified_after %q is out of range.", shorten(v))
		}
		p.query.ModifiedAfter = key
	}
	var err error
	if p.revoked, err = boolParam(q.Get("include_revoked"), "include_revoked", true); err != nil {
		return p, err
	}
	skip, err := boolParam(q.Get("skip_expired"), "skip_expired", false)
	if err != nil {
		return p, err
	}
	p.expired = !skip
	p.query.Feed = f.Filter
	p.query.Types = commaList(q.Get("match[type]"))
	p.query.IDs = commaList(q.Get("match[id]"))
	if len(p.query.IDs) > h.opts.MaxLimit {
		return p, badRequest("too_many_ids", "match[id] names %d objects; at most %d are allowed.", len(p.query.IDs), h.opts.MaxLimit)
	}
	return p, nil
}

func boolParam(v, name string, def bool) (bool, error) {
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("bad_"+name, "%s %q is neither true nor false.", name, shorten(v))
	}
	return b, nil
}

func commaList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// shorten keeps client input echoed in messages short.
func shorten(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// item is one version read for a page, its JSON copied out of the store's buffer.
type item struct {
	raw  []byte
	meta meta
}

// read fills up to p.limit items after p.after, in date_added order, in short store reads:
// no connection is held while the response is written. Versions the filters skip still
// move the position, so the returned position (the date_added of the last version read)
// is a loss-free watermark.
func (h *handler) read(r *http.Request, p page) ([]item, int64, error) {
	var items []item
	pos, scanned := p.after, 0
	for len(items) < p.limit && scanned < h.opts.MaxScan {
		q := p.query
		q.After, q.Limit = pos, min(p.limit-len(items), h.opts.MaxScan-scanned)
		var more bool
		err := h.st.ScanObjects(r.Context(), q, func(pg store.Page) error {
			more = pg.More
			return nil
		}, func(row store.Row) error {
			pos = row.DateAdded
			scanned++
			m := parseMeta(row.Raw)
			if (!p.revoked && m.Revoked) || (!p.expired && m.expired(h.opts.Now().UnixMicro())) {
				return nil
			}
			items = append(items, item{raw: bytes.Clone(row.Raw), meta: m})
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		if !more {
			break
		}
	}
	return items, pos, nil
}

// feedObjects is GET {prefix}/collections/{feed}/objects.
func (h *handler) feedObjects(w http.ResponseWriter, r *http.Request) {
	f, err := h.readableFeed(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.pageParams(r, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	obs.FromContext(r.Context()).SetPoll(p.after)
	items, pos, err := h.read(r, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	next := p.cursor // nothing new: the client keeps the cursor it sent
	if pos != p.after || next == "" {
		next = encodeCursor(pos)
	}
	obs.FromContext(r.Context()).AddServed(len(items))
	h.opts.Metrics.Exported(p.format, len(items), false)
	switch p.format {
	case formatJSON:
		writeItems(w, items, next)
	default:
		w.Header().Set("Cursor", next)
		writeLines(w, p, items)
	}
}

// writeItems streams {"items": [...], "next_cursor": "..."}; the objects are written as stored.
func writeItems(w http.ResponseWriter, items []item, next string) {
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"items":[`)
	for i, it := range items {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(it.raw)
	}
	bw.WriteString(`],"next_cursor":`)
	c, _ := json.Marshal(next)
	bw.Write(c)
	bw.WriteString("}\n")
	_ = bw.Flush()
}

// csvHeader is the header row of format=csv.
var csvHeader = []string{"id", "type", "name", "observable type", "value", "tlp", "confidence", "valid_from", "valid_until", "revoked", "created_by_ref", "labels"}

// writeLines writes the text, CSV or custom form. Text and custom skip objects that are not
// indicators with a STIX pattern; CSV gives them one row without an observable.
func writeLines(w http.ResponseWriter, p page, items []item) {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch p.format {
	case formatText:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, it := range items {
			if !it.meta.stixIndicator() {
				continue
			}
			line := it.meta.Name
			if obs := observables.Of(it.raw); len(obs) > 0 {
				vals := make([]string, len(obs))
				for i, o := range obs {
					vals[i] = o.Value
				}
				line = strings.Join(vals, " ")
			}
			bw.WriteString(oneLine(line) + "\n")
		}
	case formatCSV:
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		cw := csv.NewWriter(bw)
		_ = cw.Write(csvHeader)
		for _, it := range items {
			m := it.meta
			row := []string{m.ID, m.Type, m.Name, "", "", m.tlp(), m.confidence(), m.ValidFrom, m.ValidUntil,
				strconv.FormatBool(m.Revoked), m.CreatedByRef, strings.Join(m.Labels, ",")}
			for i := range row {
				row[i] = inertCell(row[i])
			}
			obs := observables.OfType(m.Type, it.raw)
			if len(obs) == 0 {
				_ = cw.Write(row)
			}
			for _, o := range obs {
				row[3], row[4] = inertCell(o.Type), inertCell(o.Value)
				_ = cw.Write(row)
			}
		}
		cw.Flush()
	case formatCustom:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, it := range items {
			if !it.meta.stixIndicator() {
				continue
			}
			bw.WriteString(oneLine(render(p.template, it)) + "\n")
		}
	}
	_ = bw.Flush()
}

// inertCell keeps a spreadsheet from reading a CSV cell as a formula (OWASP CSV
// injection): names, labels and even observable values come from whoever wrote the
// intelligence, so a cell starting with = + - @ tab or CR gets a leading apostrophe.
// Custom templates are not escaped: their output is the client's own format (often
// a device list, where the apostrophe would corrupt the value), not CSV.
func inertCell(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// render fills a custom template. Variables: $id $name $type $tlp $confidence
// $valid_until $observables (comma-separated values).
func render(tmpl string, it item) string {
	m := it.meta
	var vals []string
	for _, o := range observables.OfType(m.Type, it.raw) {
		vals = append(vals, o.Value)
	}
	return strings.NewReplacer(
		"$observables", strings.Join(vals, ","),
		"$valid_until", m.ValidUntil,
		"$confidence", m.confidence(),
		"$name", m.Name,
		"$type", m.Type,
		"$tlp", m.tlp(),
		"$id", m.ID,
	).Replace(tmpl)
}

// oneLine keeps one object on one line whatever its strings hold.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
