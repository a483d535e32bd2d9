package taxii

import "net/http"

// objectVersions is Get Object Versions (spec 5.8): the version strings of one
// object in date_added order. The spec's versions resource has no next; it is
// added, as in the envelope, whenever more is true, since the endpoint accepts next.
func (h *handler) objectVersions(w http.ResponseWriter, r *http.Request) {
	f, err := h.servedFeed(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := pathParam(r, "object")
	q, b, err := h.listQuery(r, endpointVersions, f, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.servePage(w, r, q, b, versionsPage, h.objectExists(r, f, id))
}
