package taxii

import (
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
)

// statusComplete is the status of every request: they are processed before the
// answer (addObjects), so none is ever "pending".
const statusComplete = "complete"

// statusResource is spec 4.3.1. Empty lists are omitted (they are optional);
// the counts are always there.
type statusResource struct {
	ID               string          `json:"id"`
	Status           string          `json:"status"`
	RequestTimestamp string          `json:"request_timestamp,omitempty"`
	TotalCount       int             `json:"total_count"`
	SuccessCount     int             `json:"success_count"`
	Successes        []statusDetails `json:"successes,omitempty"`
	FailureCount     int             `json:"failure_count"`
	Failures         []statusDetails `json:"failures,omitempty"`
	PendingCount     int             `json:"pending_count"`
	Pendings         []statusDetails `json:"pendings,omitempty"`
}

// statusDetails is the status-details type of spec 4.3.1. id and version are
// required; an element that is not a STIX object has neither, and shows "".
type statusDetails struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

func toStatusResource(s store.Status) statusResource {
	out := statusResource{
		ID:           s.ID,
		Status:       s.Status,
		TotalCount:   s.TotalCount,
		SuccessCount: s.SuccessCount,
		Successes:    toStatusDetails(s.Successes),
		FailureCount: s.FailureCount,
		Failures:     toStatusDetails(s.Failures),
		PendingCount: s.PendingCount,
		Pendings:     toStatusDetails(s.Pendings),
	}
	if !s.RequestTimestamp.IsZero() {
		out.RequestTimestamp = s.RequestTimestamp.UTC().Format(store.DateAddedLayout)
	}
	return out
}

func toStatusDetails(in []store.StatusObject) []statusDetails {
	if len(in) == 0 {
		return nil
	}
	out := make([]statusDetails, len(in))
	for i, o := range in {
		out[i] = statusDetails(o)
	}
	return out
}

// status is Get Status (spec 4.3). A status is readable for StatusTTL after its
// request was processed, by every key that may read the collection the objects
// were added to, admin keys included (a feed limit binds them too); to anyone
// else, as after expiry, it does not exist (404). Status ids are UUIDs; anything else is 404 without a
// database query.
func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	raw := pathParam(r, "status")
	missing := notFound("There is no status %q in this API root: it never existed, has expired, or belongs to a collection your API key may not read.", raw)
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		h.fail(w, r, missing)
		return
	}
	release, err := h.statusTurn(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer release()
	st, err := h.st.GetStatus(r.Context(), id.String(), h.opts.Now())
	if errors.Is(err, store.ErrNotFound) {
		err = missing
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !auth.FromContext(r.Context()).CanRead(st.FeedID) {
		h.fail(w, r, missing)
		return
	}
	obs.FromContext(r.Context()).SetFeed(st.FeedID)
	h.writeJSON(w, r, http.StatusOK, toStatusResource(st))
}
