package admin

import (
	"net/http"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// keyJSON is a key as the admin API shows it: never its secret nor its hash.
type keyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Feeds      []KeyFeed  `json:"feeds"` // empty: every feed
	Source     string     `json:"source"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func keyOut(v KeyView) keyJSON {
	scope := v.Scope
	if scope == nil {
		scope = []KeyFeed{}
	}
	return keyJSON{ID: v.ID, Name: v.Name, Role: string(v.Role), Feeds: scope, Source: store.KeySource(v.APIKey),
		CreatedAt: v.CreatedAt.UTC(), LastUsedAt: optTime(v.LastUsedAt), RevokedAt: optTime(v.RevokedAt)}
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.svc.ListKeys(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]keyJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, keyOut(k))
	}
	a.writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}

// keyIn is the body of key creation.
type keyIn struct {
	Name   string   `json:"name"`
	Role   string   `json:"role"`
	Feeds  []string `json:"feeds"` // ids or aliases; empty: every feed
	Source string   `json:"source"`
}

// createdKey is the answer to a creation: the key and, this once, its secret.
type createdKey struct {
	keyJSON
	Key string `json:"key"`
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request) {
	in := keyIn{Role: string(store.RoleReadOnly)}
	if err := a.decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	plain, k, err := a.svc.CreateKey(r.Context(), actor(r), KeyInput(in))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.svc.keyView(r.Context(), k)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", Prefix+"/keys/"+k.ID)
	a.writeJSON(w, http.StatusCreated, createdKey{keyJSON: keyOut(v), Key: plain})
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) {
	k, err := a.svc.RevokeKey(r.Context(), actor(r), pathParam(r, "key"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	k, err = a.svc.st.GetKey(r.Context(), k.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.svc.keyView(r.Context(), k)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, http.StatusOK, keyOut(v))
}
