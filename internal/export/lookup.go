package export

import (
	"bytes"
	"net/http"
	"slices"

	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/observables"
	"github.com/inthreat/taxii-server/internal/store"
)

// latestIn returns the latest versions of ids that any of feeds shows, each id once,
// in date_added order. Each feed is asked on its own, so every feed filter applies as it does on TAXII.
func (h *handler) latestIn(r *http.Request, feeds []store.Feed, ids []string) ([]item, error) {
	byID := map[string]store.Row{}
	for _, f := range feeds {
		q := store.Query{Feed: f.Filter, IDs: ids, Limit: len(ids)}
		err := h.st.ScanObjects(r.Context(), q, func(store.Page) error { return nil }, func(row store.Row) error {
			if _, seen := byID[row.ID]; !seen {
				row.Raw = bytes.Clone(row.Raw)
				byID[row.ID] = row
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(byID) == len(ids) {
			break
		}
	}
	return sortedItems(byID), nil
}

func sortedItems(byID map[string]store.Row) []item {
	rows := make([]store.Row, 0, len(byID))
	for _, row := range byID {
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b store.Row) int { return int(a.DateAdded - b.DateAdded) })
	items := make([]item, len(rows))
	for i, row := range rows {
		items[i] = item{raw: row.Raw}
	}
	return items
}

// object is GET {prefix}/objects/{object}: the latest version, when one of the key's feeds shows it.
func (h *handler) object(w http.ResponseWriter, r *http.Request) {
	id := pathParam(r, "object")
	feeds, err := h.readableFeeds(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	items, err := h.latestIn(r, feeds, []string{id})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(items) == 0 {
		h.fail(w, r, notFound("There is no object %q in the feeds of this API key.", shorten(id)))
		return
	}
	obs.FromContext(r.Context()).AddServed(1)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(items[0].raw)
}

// objects is GET {prefix}/objects?match[id]=a,b: {"items": [...]}.
func (h *handler) objects(w http.ResponseWriter, r *http.Request) {
	ids := commaList(r.URL.Query().Get("match[id]"))
	switch {
	case len(ids) == 0:
		h.fail(w, r, badRequest("missing_ids", "Name the objects with match[id]=id1,id2."))
		return
	case len(ids) > h.opts.MaxLimit:
		h.fail(w, r, badRequest("too_many_ids", "match[id] names %d objects; at most %d are allowed.", len(ids), h.opts.MaxLimit))
		return
	}
	feeds, err := h.readableFeeds(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	items, err := h.latestIn(r, feeds, ids)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	obs.FromContext(r.Context()).AddServed(len(items))
	writeList(w, items)
}

// indicatorContext is GET {prefix}/indicators/context?type=&value=: the latest versions of the
// indicators whose patterns name value, in the key's feeds, through the observables index.
func (h *handler) indicatorContext(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	value := q.Get("value")
	if value == "" {
		h.fail(w, r, badRequest("missing_value", "Give the value to look up: value=198.51.100.7 (and optionally type=ipv4-addr)."))
		return
	}
	if len(value) > 2048 {
		h.fail(w, r, badRequest("bad_value", "value is longer than 2048 bytes."))
		return
	}
	typ, norm := observables.Normalise(q.Get("type"), value)
	feeds, err := h.readableFeeds(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	byID := map[string]store.Row{}
	for _, f := range feeds {
		err := h.st.FindByObservable(r.Context(), f.Filter, typ, norm, h.opts.MaxLimit, func(row store.Row) error {
			byID[row.ID] = row
			return nil
		})
		if err != nil {
			h.fail(w, r, err)
			return
		}
	}
	items := sortedItems(byID)
	obs.FromContext(r.Context()).AddServed(len(items))
	writeList(w, items)
}

// writeList writes {"items": [...]}.
func writeList(w http.ResponseWriter, items []item) {
	var buf bytes.Buffer
	buf.WriteString(`{"items":[`)
	for i, it := range items {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(it.raw)
	}
	buf.WriteString("]}\n")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
}
