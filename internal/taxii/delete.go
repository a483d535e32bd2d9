package taxii

import (
	"errors"
	"net/http"

	"github.com/inthreat/taxii-server/internal/store"
)

// deleteObject is Delete an Object (spec 5.7): it removes the versions of
// {object} that match[version] (default: all, see deleteFilters) and
// match[spec_version] select, among those the collection shows, and answers 200
// with no body. Nothing selected is 404. Permissions follow the table of 5.7
// (writableFeed): no read is 404, read without write is 403.
//
// Feeds are views over one store, so the versions leave every collection that
// showed them. A deletion reaches only clients that ask afterwards: a poller
// that already pulled the object keeps it, and nothing tells it. To withdraw
// intelligence from consumers such as Microsoft Sentinel, add a new version
// with "revoked": true instead; deletion is for content that should never have
// been stored. Pollers continuing with next or added_after are not disturbed.
func (h *handler) deleteObject(w http.ResponseWriter, r *http.Request) {
	f, err := h.writableFeed(r)
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
	if _, err := h.st.DeleteObject(r.Context(), f.Filter, id, versions, specVersions); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = notFound("There is no object %q in this collection, or no version of it matches match[version] and match[spec_version].", id)
		}
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", MediaTypeTAXII)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
