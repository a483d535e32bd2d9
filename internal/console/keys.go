package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/store"
)

// roles are the choices of the key form, least power first (the default).
var roles = []store.Role{store.RoleReadOnly, store.RoleReadWrite, store.RoleAdmin}

type keyRow struct {
	Key   store.APIKey
	Feeds []string // titles of the feeds it is limited to; empty: all
	// PrevUntil is when the secret a rotation replaced stops working; zero when it already has.
	PrevUntil time.Time
}

type keysData struct {
	Keys  []keyRow
	Feeds []store.Feed
	Roles []store.Role
	Input keyInput
	// Created is the new key's plaintext, shown this once.
	Created     string
	CreatedName string
	// Rotated is set when Created is a rotated key's new secret.
	Rotated *rotated
	// Grace is the rotation forms' grace field, the server's default;
	// MaxGrace the largest the service takes.
	Grace, MaxGrace string
	// Rotate is a refused rotation form, shown again with its error.
	Rotate rotateInput
}

// rotated is what the page says of a rotation: the id is unchanged and the old
// secret works until Until (now, for a grace of 0s).
type rotated struct {
	ID        string
	Until     time.Time
	Immediate bool
}

// rotateInput is a rotation form as submitted.
type rotateInput struct{ KeyID, Grace string }

// GraceOf is the grace field's value for key id: what was submitted on a
// refused form of that key, else the default.
func (d keysData) GraceOf(id string) string {
	if d.Rotate.KeyID == id {
		return d.Rotate.Grace
	}
	return d.Grace
}

func (c *console) keysPage(w http.ResponseWriter, r *http.Request, status int, d keysData, errs fieldErrors, flash string) {
	keys, err := c.st.ListKeys(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	feeds, err := c.st.ListFeeds(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	titles := map[string]string{}
	for _, f := range feeds {
		titles[strings.ToLower(f.ID)] = f.Title
	}
	now := c.o.Now()
	for _, k := range keys {
		row := keyRow{Key: k}
		if k.RevokedAt.IsZero() && now.Before(k.PrevValidUntil) {
			row.PrevUntil = k.PrevValidUntil
		}
		for _, id := range k.Feeds {
			t, ok := titles[strings.ToLower(id)]
			if !ok {
				t = id + " (deleted)"
			}
			row.Feeds = append(row.Feeds, t)
		}
		d.Keys = append(d.Keys, row)
	}
	d.Feeds, d.Roles = feeds, roles
	o := c.o.Admin.Options()
	d.Grace, d.MaxGrace = duration(o.RotateGrace), duration(o.MaxRotateGrace)
	c.render(w, r, status, "keys", page{Title: "API keys", Nav: "keys", Data: d, Errors: errs, Flash: flash})
}

func (c *console) keyList(w http.ResponseWriter, r *http.Request) {
	flash := ""
	if r.URL.Query().Get("revoked") != "" {
		flash = "Key revoked: its next request is refused."
	}
	c.keysPage(w, r, http.StatusOK, keysData{Input: keyInput{Role: string(store.RoleReadOnly)}}, nil, flash)
}

// keyCreate answers with the page itself, not a redirect: the new key is in this
// one response (not cached: Cache-Control no-store) and nowhere else.
func (c *console) keyCreate(w http.ResponseWriter, r *http.Request) {
	in := keyInput{Name: r.PostFormValue("name"), Role: r.PostFormValue("role"), Feeds: r.PostForm["feeds"], Source: r.PostFormValue("source")}
	plain, k, err := c.o.Admin.CreateKey(r.Context(), actor(r), admin.KeyInput{Name: in.Name, Role: in.Role, Feeds: in.Feeds, Source: in.Source})
	if err != nil {
		if !refused(err) {
			c.fail(w, r, err)
			return
		}
		c.keysPage(w, r, http.StatusUnprocessableEntity, keysData{Input: in}, fieldOf(err), "")
		return
	}
	c.keysPage(w, r, http.StatusCreated, keysData{Input: keyInput{Role: string(store.RoleReadOnly)}, Created: plain, CreatedName: k.Name}, nil, "")
}

func (c *console) keyRevoke(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "key")
	if _, err := c.o.Admin.RevokeKey(r.Context(), actor(r), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Path+"/keys?revoked=1", http.StatusSeeOther)
}

// keyRotate gives a key a new secret through the service, with the grace of the
// form (empty: the server's default). Like keyCreate, it answers with the page
// itself: the new secret is in this one response only.
func (c *console) keyRotate(w http.ResponseWriter, r *http.Request) {
	in := rotateInput{KeyID: chi.URLParam(r, "key"), Grace: strings.TrimSpace(r.PostFormValue("grace"))}
	var grace *time.Duration
	if in.Grace != "" {
		g, err := time.ParseDuration(in.Grace)
		if err != nil {
			c.rotateRefused(w, r, in, formError{"grace", fmt.Sprintf("%q is not a duration such as 24h or 90m", in.Grace)})
			return
		}
		grace = &g
	}
	plain, k, err := c.o.Admin.RotateKey(r.Context(), actor(r), in.KeyID, grace)
	if err != nil {
		if !refused(err) {
			c.fail(w, r, err)
			return
		}
		c.rotateRefused(w, r, in, err)
		return
	}
	d := keysData{Input: keyInput{Role: string(store.RoleReadOnly)}, Created: plain, CreatedName: k.Name,
		Rotated: &rotated{ID: k.ID, Until: k.PrevValidUntil, Immediate: !c.o.Now().Before(k.PrevValidUntil)}}
	c.keysPage(w, r, http.StatusOK, d, nil, "")
}

// rotateRefused shows the keys page again with the refusal next to the grace
// field of the key's form, or above the page when it is about the key itself
// (unknown, revoked meanwhile).
func (c *console) rotateRefused(w http.ResponseWriter, r *http.Request, in rotateInput, err error) {
	status := http.StatusUnprocessableEntity
	switch {
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		status = http.StatusConflict
	}
	errs := fieldOf(err)
	if _, ok := errs["grace"]; !ok {
		errs = fieldErrors{"": "The key was not rotated: " + err.Error()}
	}
	c.keysPage(w, r, status, keysData{Input: keyInput{Role: string(store.RoleReadOnly)}, Rotate: in}, errs, "")
}

// duration writes d as a user types it: 24h, 90m, 1h30m, 0s.
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
