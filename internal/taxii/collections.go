package taxii

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/feed"
	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
)

// collectionResource is spec 5.2.1; can_read and can_write are the caller's.
type collectionResource struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types"`
}

// collectionsResource is spec 5.1.1: the list is omitted when empty, giving {}.
type collectionsResource struct {
	Collections []collectionResource `json:"collections,omitempty"`
}

func toCollection(f store.Feed, c *auth.Caller) collectionResource {
	desc := f.Description
	if desc == "" {
		desc = "Shows " + feed.Describe(f.Filter) + "."
	}
	return collectionResource{
		ID:          f.ID,
		Title:       f.Title,
		Description: desc,
		Alias:       f.Alias,
		CanRead:     c.CanRead(f.ID),
		CanWrite:    c.CanWrite(f),
		MediaTypes:  []string{MediaTypeSTIX},
	}
}

func (h *handler) collections(w http.ResponseWriter, r *http.Request) {
	c := auth.FromContext(r.Context())
	feeds, err := h.st.ListFeeds(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var out collectionsResource
	for _, f := range feeds {
		if c.CanRead(f.ID) {
			out.Collections = append(out.Collections, toCollection(f, c))
		}
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

func (h *handler) collection(w http.ResponseWriter, r *http.Request) {
	f, err := h.readableFeed(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, toCollection(f, auth.FromContext(r.Context())))
}

// readableFeed resolves the {collection} path parameter, by id or alias, to a
// feed the caller may read. A feed the caller may not read is 404, like one that
// does not exist (spec 5.2: "or the client does not have access"), so keys
// limited to some feeds learn nothing about the others. Every visible
// collection is readable, so the spec's 403 for can_read false never arises.
func (h *handler) readableFeed(r *http.Request) (store.Feed, error) {
	idOrAlias := pathParam(r, "collection")
	f, err := h.st.GetFeed(r.Context(), idOrAlias)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !auth.FromContext(r.Context()).CanRead(f.ID)) {
		return store.Feed{}, notFound("There is no collection %q in this API root.", idOrAlias)
	}
	if err == nil {
		obs.FromContext(r.Context()).SetFeed(f.ID)
	}
	return f, err
}

// servedFeed is readableFeed for the requests that read a feed's objects: while
// its entries are being built they would show part of it, so they are refused
// (store.ErrBuilding: 503 with Retry-After) until the build completes.
func (h *handler) servedFeed(r *http.Request) (store.Feed, error) {
	f, err := h.readableFeed(r)
	if err == nil && f.Building {
		return f, store.ErrBuilding
	}
	return f, err
}

// writableFeed resolves {collection} for Add Objects and Delete an Object: a
// collection the caller may not read is 404 (as in readableFeed); one it may
// read but not write is 403 (spec 5.5, and the table of 5.7), with the reason.
// can_write false while can_read true is the only other case our roles allow:
// every key may read what it may write.
func (h *handler) writableFeed(r *http.Request) (store.Feed, error) {
	f, err := h.readableFeed(r)
	if err != nil {
		return f, err
	}
	c := auth.FromContext(r.Context())
	switch {
	case c.CanWrite(f):
		return f, nil
	case !f.Writable:
		return store.Feed{}, forbidden("Collection %q is read-only (can_write is false): it takes no objects and no deletions.", f.ID)
	}
	return store.Feed{}, forbidden("Your API key (role %s) may read collection %q but not write to it (can_write is false); writing needs a read-write or admin key.", c.Role, f.ID)
}

// pathParam is a path parameter unescaped: chi routes on the raw path when the
// request has escapes, and then hands back escaped values.
func pathParam(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}
