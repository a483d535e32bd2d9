package admin

import (
	"net/http"
	"strings"
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
	// PreviousSecretValidUntil is when the secret a rotation replaced stops working; null when none is valid.
	PreviousSecretValidUntil *time.Time `json:"previous_secret_valid_until"`
}

func keyOut(v KeyView) keyJSON {
	scope := v.Scope
	if scope == nil {
		scope = []KeyFeed{}
	}
	return keyJSON{ID: v.ID, Name: v.Name, Role: string(v.Role), Feeds: scope, Source: store.KeySource(v.APIKey),
		CreatedAt: v.CreatedAt.UTC(), LastUsedAt: optTime(v.LastUsedAt), RevokedAt: optTime(v.RevokedAt),
		PreviousSecretValidUntil: optTime(v.PrevValidUntil)}
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) {
	limit, after, err := a.listParams(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	keys, err := a.svc.ListKeys(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	keys, next := page(keys, func(k KeyView) string { return k.ID }, after, limit)
	use, err := a.svc.usageByKeyID(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]keyListItem, 0, len(keys))
	for _, k := range keys {
		u := use[strings.ToLower(k.ID)]
		out = append(out, keyListItem{keyJSON: keyOut(k), Last24h: u.Day, Last30d: u.Month, LastPoll: optTime(u.LastPoll)})
	}
	a.writeJSON(w, http.StatusOK, listPage{Items: out, Next: next})
}

// keyListItem is a key in the list, with what it asked over the last 24 h and 30 d (usage.go).
type keyListItem struct {
	keyJSON
	Last24h  UsageFigures `json:"last_24h"`
	Last30d  UsageFigures `json:"last_30d"`
	LastPoll *time.Time   `json:"last_poll"`
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

// rotateIn is the optional body of a rotation.
type rotateIn struct {
	Grace *string `json:"grace"` // a Go duration ("24h", "90m", "0s"); absent: the configured default
}

func (a *API) rotateKey(w http.ResponseWriter, r *http.Request) {
	var in rotateIn
	if r.ContentLength != 0 {
		if err := a.decode(r, &in); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	var grace *time.Duration
	if in.Grace != nil {
		g, err := time.ParseDuration(*in.Grace)
		if err != nil {
			a.fail(w, r, invalid("grace", "grace %q is not a duration such as 24h or 90m", *in.Grace))
			return
		}
		grace = &g
	}
	plain, k, err := a.svc.RotateKey(r.Context(), actor(r), pathParam(r, "key"), grace)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.svc.keyView(r.Context(), k)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, http.StatusOK, createdKey{keyJSON: keyOut(v), Key: plain})
}
