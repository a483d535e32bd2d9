package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// sourceJSON is a provenance source with how many objects have a version from it.
type sourceJSON struct {
	Source  string `json:"source"`
	Objects int    `json:"objects"`
}

func (a *API) listSources(w http.ResponseWriter, r *http.Request) {
	limit, after, err := a.listParams(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	all, err := a.svc.ListSources(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	counts, next := page(all, func(s store.SourceCount) string { return s.Source }, after, limit)
	out := make([]sourceJSON, 0, len(counts))
	for _, c := range counts {
		out = append(out, sourceJSON{Source: c.Source, Objects: c.Objects})
	}
	a.writeJSON(w, http.StatusOK, listPage{Items: out, Next: next})
}

// auditJSON is one entry of the audit log.
type auditJSON struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	ActorKeyID string    `json:"actor_key_id,omitempty"`
	Address    string    `json:"address,omitempty"`
	Action     string    `json:"action"`
	Target     string    `json:"target"`
	Detail     string    `json:"detail,omitempty"`
}

// listAudit pages backwards: next is the before of the following (older) page.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	limit, _, err := a.listParams(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			a.fail(w, r, invalid("before", "before %q is not an entry id", v))
			return
		}
	}
	entries, err := a.svc.ListAudit(r.Context(), before, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]auditJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, auditJSON{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, ActorKeyID: e.ActorKeyID, Address: e.Address,
			Action: e.Action, Target: e.Target, Detail: e.Detail})
	}
	var next string
	if len(entries) == limit {
		next = strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	a.writeJSON(w, http.StatusOK, listPage{Items: out, Next: next})
}
