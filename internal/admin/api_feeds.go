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
	Format      string         `json:"format"`  // the export API's default format; "" is JSON
	Template    string         `json:"template,omitempty"`
	Building    bool           `json:"building"` // its entries are still being gathered: its objects answer 503
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
		Format: f.ExportFormat, Template: f.ExportTemplate, Building: f.Building,
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
	Format      *string                    `json:"format"`
	Template    *string                    `json:"template"`
	Filter      map[string]json.RawMessage `json:"filter"`
}

// change turns the body into a FeedChange: each filter value may be a string in
// its command-line form, a list of strings, a number or a boolean; null clears it.
func (in feedIn) change() (FeedChange, error) {
	c := FeedChange{Title: in.Title, Description: in.Description, Alias: in.Alias, Writable: in.Writable,
		Format: in.Format, Template: in.Template, Filter: map[string]string{}}
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

// feedWithStats is a feed in a list: with what it holds.
type feedWithStats struct {
	feedJSON
	Objects         int64   `json:"objects"`           // versions a poller sees
	NewestDateAdded *string `json:"newest_date_added"` // null when empty
}

func (a *API) withStats(r *http.Request, f store.Feed) (feedWithStats, error) {
	st, err := a.svc.FeedStats(r.Context(), f)
	if err != nil {
		return feedWithStats{}, err
	}
	out := feedWithStats{feedJSON: feedOut(f), Objects: st.Objects}
	if st.Newest > 0 {
		d := store.FormatDateAdded(st.Newest)
		out.NewestDateAdded = &d
	}
	return out, nil
}

func (a *API) listFeeds(w http.ResponseWriter, r *http.Request) {
	limit, after, err := a.listParams(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	feeds, err := a.svc.ListFeeds(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	feeds, next := page(feeds, func(f store.Feed) string { return f.ID }, after, limit)
	out := make([]feedWithStats, 0, len(feeds))
	for _, f := range feeds {
		v, err := a.withStats(r, f)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out = append(out, v)
	}
	a.writeJSON(w, http.StatusOK, listPage{Items: out, Next: next})
}

// listPage is every list's answer: items, and next, the after of the next page ("" at the end).
type listPage struct {
	Items any    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// previewJSON is one object of a feed's preview.
type previewJSON struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Version   string          `json:"version,omitempty"`
	DateAdded string          `json:"date_added"`
	Object    json.RawMessage `json:"object"`
}

// feedDetail is one feed with its counts and the first objects it shows.
type feedDetail struct {
	feedWithStats
	Preview []previewJSON `json:"preview"`
}

func (a *API) getFeed(w http.ResponseWriter, r *http.Request) {
	f, err := a.svc.GetFeed(r.Context(), pathParam(r, "feed"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	v, err := a.withStats(r, f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rows, err := a.svc.Preview(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d := feedDetail{feedWithStats: v, Preview: make([]previewJSON, 0, len(rows))}
	for _, row := range rows {
		d.Preview = append(d.Preview, previewJSON{ID: row.ID, Type: row.Type, Version: row.Version,
			DateAdded: store.FormatDateAdded(row.DateAdded), Object: row.Object})
	}
	a.writeJSON(w, http.StatusOK, d)
}

// countIn is the body of a count: a filter as feeds take it.
type countIn struct {
	Filter map[string]json.RawMessage `json:"filter"`
}

func (a *API) countFilter(w http.ResponseWriter, r *http.Request) {
	var in countIn
	if err := a.decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := feedIn{Filter: in.Filter}.change()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	n, capped, err := a.svc.CountFilter(r.Context(), c.Filter)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeJSON(w, http.StatusOK, map[string]any{"objects": n, "capped": capped})
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
