package taxii

import (
	"net/http"

	"github.com/inthreat/taxii-server/internal/obs"
)

// manifest is Get Object Manifests (spec 5.3): one record per version, no object bodies.
func (h *handler) manifest(w http.ResponseWriter, r *http.Request) {
	f, err := h.servedFeed(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q, b, err := h.listQuery(r, endpointManifest, f, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	obs.FromContext(r.Context()).SetPoll(q.AddedAfter)
	h.servePage(w, r, q, b, manifestPage, nil)
}
