package taxii

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/store"
)

// deleteObject is Delete an Object (spec 5.7): it removes the versions of
// {object} that match[version] (default: all, see deleteFilters) and
// match[spec_version] select, among those the collection shows, and answers 200
// with no body. Nothing selected is 404. Permissions follow the table of 5.7
// (writableFeed): no read is 404, read without write is 403. A key that is not
// an admin may delete only objects whose every stored version came from its own
// source; any other is 403 and nothing is deleted.
//
// Feeds are views over one store, so the versions leave every collection that
// showed them. A deletion reaches only clients that ask afterwards: a poller
// that already pulled the object keeps it, and nothing tells it. To withdraw
// intelligence from consumers such as Microsoft Sentinel, add a new version
// with "revoked": true instead; deletion is for content that should never have
// been stored. Pollers continuing with next or added_after are not disturbed.
func (h *handler) deleteObject(w http.ResponseWriter, r *http.Request) {
	f, err := h.writableFeed(r)
	if err == nil && f.Building { // it finds the versions in the feed's entries
		err = store.ErrBuilding
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := pathParam(r, "object")
	versions, specVersions, err := deleteFilters(r, h.opts.MaxMatchValues)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	source := ""
	if c := auth.FromContext(r.Context()); c.Confined() {
		source = c.Source
	}
	if _, err := h.st.DeleteObject(r.Context(), f.Filter, id, versions, specVersions, source); err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = notFound("There is no object %q in this collection, or no version of it matches match[version] and match[spec_version].", id)
		case errors.Is(err, store.ErrOtherSource):
			err = &apiError{status: http.StatusForbidden, code: "other_source", description: fmt.Sprintf(
				"Object %s belongs to another source: a key that is not an admin may delete only objects whose every version came from its own source. Nothing was deleted.", id)}
		}
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", MediaTypeTAXII)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
