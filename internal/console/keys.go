package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/store"
)

// roles are the choices of the key form, least power first (the default).
var roles = []store.Role{store.RoleReadOnly, store.RoleReadWrite, store.RoleAdmin}

type keyRow struct {
	Key   store.APIKey
	Feeds []string // titles of the feeds it is limited to; empty: all
}

type keysData struct {
	Keys  []keyRow
	Feeds []store.Feed
	Roles []store.Role
	Input keyInput
	// Created is the new key's plaintext, shown this once.
	Created     string
	CreatedName string
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
	for _, k := range keys {
		row := keyRow{Key: k}
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
