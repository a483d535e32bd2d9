package taxii

import (
	"net/http"

	"github.com/inthreat/taxii-server/internal/obs"
)

// objects is Get Objects (spec 5.4): an envelope of stored objects, streamed.
func (h *handler) objects(w http.ResponseWriter, r *http.Request) {
	f, err := h.servedFeed(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q, b, err := h.listQuery(r, endpointObjects, f, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	obs.FromContext(r.Context()).SetPoll(q.AddedAfter)
	h.servePage(w, r, q, b, objectsPage, nil)
}

// object is Get an Object (spec 5.6): the versions of one object the filters select;
// 404 when the collection has no version of it at all.
func (h *handler) object(w http.ResponseWriter, r *http.Request) {
	f, err := h.servedFeed(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := pathParam(r, "object")
	q, b, err := h.listQuery(r, endpointObject, f, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.servePage(w, r, q, b, objectsPage, h.objectExists(r, f, id))
}
