package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/inthreat/taxii-server/internal/feed"
	"github.com/inthreat/taxii-server/internal/store"
)

// feedJSON is a feed as the admin API shows it. Filter uses the names and
// forms of feed.Flags, so a feed read can be sent back as it is.
type feedJSON struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Alias       string         `json:"alias"`
	Writable    bool           `json:"writable"`
	Default     bool           `json:"default"`
	CreatedAt   time.Time      `json:"created_at"`
	Filter      map[string]any `json:"filter"`
	Summary     string         `json:"summary"` // the filter in words
}

func feedOut(f store.Feed) feedJSON {
	tlp := []string{}
	for _, l := range f.Filter.TLP {
		tlp = append(tlp, strings.ToLower(feed.TLPName(l)))
	}
	list := func(v []string) []string {
		if v == nil {
			return []string{}
		}
		return v
	}
	return feedJSON{ID: f.ID, Title: f.Title, Description: f.Description, Alias: f.Alias, Writable: f.Writable,
		Default: feed.IsDefault(f.ID), CreatedAt: f.CreatedAt.UTC(), Summary: feed.Describe(f.Filter),
		Filter: map[string]any{
			"types": list(f.Filter.Types), "exclude-types": list(f.Filter.ExcludeTypes), "tlp": tlp,
			"sources": list(f.Filter.Sources), "created-by": list(f.Filter.CreatedBy), "min-confidence": f.Filter.MinConfidence,
			"labels": list(f.Filter.Labels), "exclude-revoked": f.Filter.ExcludeRevoked,
			"exclude-expired": f.Filter.ExcludeExpired, "with-context": f.Filter.WithContext,
		}}
}

// feedIn is the body of create and update; absent fields are kept.
type feedIn struct {
	Title       *string                    `json:"title"`
	Description *string                    `json:"description"`
	Alias       *string                    `json:"alias"`
	Writable    *bool                      `json:"writable"`
	Filter      map[string]json.RawMessage `json:"filter"`
}

// change turns the body into a FeedChange: each filter value may be a string in
// its command-line form, a list of strings, a number or a boolean; null clears it.
func (in feedIn) change() (FeedChange, error) {
	c := FeedChange{Title: in.Title, Description: in.Description, Alias: in.Alias, Writable: in.Writable, Filter: map[string]string{}}
	for name, raw := range in.Filter {
		v, err := filterValue(raw)
		if err != nil {
			return FeedChange{}, invalid(name, "filter %q: %v", name, err)
		}
		c.Filter[name] = v
	}
	return c, nil
}

func filterValue(raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok || strings.Contains(s, ",") {
				return "", fmt.Errorf("want a list of strings without commas")
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("want a string, a list of strings, a number or a boolean")
}

func (a *API) listFeeds(w http.ResponseWriter, r *http.Request) {
	feeds, err := a.svc.ListFeeds(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]feedJSON, 0, len(feeds))
	for _, f := range feeds {
		out = append(out, feedOut(f))
	}
	a.writeJSON(w, http.StatusOK, map[string]any{"feeds": out})
}

func (a *API) getFeed(w http.ResponseWriter, r *http.Request) {
	f, err := a.svc.GetFeed(r.Context(), pathParam(r, "feed"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, http.StatusOK, feedOut(f))
}

func (a *API) createFeed(w http.ResponseWriter, r *http.Request) {
	var in feedIn
	if err := a.decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := in.change()
	if err == nil {
		var f store.Feed
		if f, err = a.svc.CreateFeed(r.Context(), actor(r), c); err == nil {
			w.Header().Set("Location", Prefix+"/feeds/"+f.ID)
			a.writeJSON(w, http.StatusCreated, feedOut(f))
			return
		}
	}
	a.fail(w, r, err)
}

func (a *API) updateFeed(w http.ResponseWriter, r *http.Request) {
	var in feedIn
	if err := a.decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := in.change()
	if err == nil {
		var f store.Feed
		if f, err = a.svc.UpdateFeed(r.Context(), actor(r), pathParam(r, "feed"), c); err == nil {
			a.writeJSON(w, http.StatusOK, feedOut(f))
			return
		}
	}
	a.fail(w, r, err)
}

func (a *API) deleteFeed(w http.ResponseWriter, r *http.Request) {
	f, scoped, err := a.svc.DeleteFeed(r.Context(), actor(r), pathParam(r, "feed"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	keys := make([]keyCandidate, 0, len(scoped))
	for _, k := range scoped {
		keys = append(keys, keyCandidate{ID: k.ID, Name: k.Name, Role: string(k.Role), CreatedAt: k.CreatedAt.UTC(), LastUsedAt: optTime(k.LastUsedAt)})
	}
	// The keys still scoped to the feed can no longer read it: the caller may revoke them.
	a.writeJSON(w, http.StatusOK, map[string]any{"deleted": f.ID, "scoped_keys": keys})
}
