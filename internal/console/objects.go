package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/inthreat/taxii-server/internal/observables"
	"github.com/inthreat/taxii-server/internal/store"
)

// searchLimit bounds the objects one search shows: a browser, not an export.
const searchLimit = 100

type objectRow struct {
	ID, Type, Version string
	DateAdded         int64
}

type searchData struct {
	Query   string
	Kind    string // "id" or "observable"
	Results []objectRow
}

// isObjectID tells a STIX id (type--uuid) from an observable value.
func isObjectID(q string) bool {
	t, id, ok := strings.Cut(q, "--")
	return ok && t != "" && len(id) == 36 && !strings.ContainsAny(q, " /:@")
}

// objectSearch finds the latest versions of an object by id, or of the indicators
// whose patterns name an observable value (the observable index, as the export API's
// indicator context does), over the whole store: the console's caller is an admin.
func (c *console) objectSearch(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := searchData{Query: q}
	if q == "" {
		c.render(w, r, http.StatusOK, "objects", page{Title: "Intelligence", Nav: "objects", Data: d})
		return
	}
	if len(q) > 2048 {
		c.render(w, r, http.StatusUnprocessableEntity, "objects", page{Title: "Intelligence", Nav: "objects", Data: d,
			Errors: fieldErrors{"q": "Search for at most 2048 characters."}})
		return
	}
	each := func(row store.Row) error {
		d.Results = append(d.Results, objectRow{ID: row.ID, Type: row.Type, Version: row.Version, DateAdded: row.DateAdded})
		return nil
	}
	var err error
	if isObjectID(q) {
		d.Kind = "id"
		err = c.st.ScanObjects(r.Context(), store.Query{IDs: []string{q}, Limit: 1, NoRaw: true}, func(store.Page) error { return nil }, each)
	} else {
		d.Kind = "observable"
		typ, norm := observables.Normalise("", q)
		err = c.st.FindByObservable(r.Context(), store.FeedFilter{}, typ, norm, searchLimit, each)
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "objects", page{Title: "Intelligence", Nav: "objects", Data: d})
}

type versionRow struct {
	Version   string
	DateAdded int64
	JSON      string // indented
}

type versionsData struct {
	ID       string
	Versions []versionRow
}

// objectVersions shows every stored version of one object, newest first.
func (c *console) objectVersions(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "object")
	d := versionsData{ID: id}
	q := store.Query{IDs: []string{id}, Versions: store.VersionMatch{All: true}, Limit: searchLimit}
	err := c.st.ScanObjects(r.Context(), q, func(store.Page) error { return nil }, func(row store.Row) error {
		var b bytes.Buffer
		if json.Indent(&b, row.Raw, "", "  ") != nil {
			b.Reset()
			b.Write(row.Raw)
		}
		d.Versions = append(d.Versions, versionRow{Version: row.Version, DateAdded: row.DateAdded, JSON: b.String()})
		return nil
	})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if len(d.Versions) == 0 {
		c.errorPage(w, r, http.StatusNotFound, "There is no object "+id+" in the store.")
		return
	}
	for i, j := 0, len(d.Versions)-1; i < j; i, j = i+1, j-1 {
		d.Versions[i], d.Versions[j] = d.Versions[j], d.Versions[i]
	}
	c.render(w, r, http.StatusOK, "object", page{Title: id, Nav: "objects", Data: d})
}
