package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/inthreat/taxii-server/internal/feed"
	"github.com/inthreat/taxii-server/internal/store"
)

// tlpLevels are the TLP choices of the feed form, as feed.Set names them.
var tlpLevels = []string{"clear", "green", "amber", "amber+strict", "red", "none"}

// feedRow is a feed in the list, with what a Sentinel user copies.
type feedRow struct {
	Feed      store.Feed
	Describe  string
	Count     int64
	Newest    int64
	IsDefault bool
}

type feedListData struct {
	Feeds   []feedRow
	APIRoot string
}

// apiRootURL is the API root URL Sentinel's TAXII connector asks for.
func (c *console) apiRootURL(r *http.Request) string { return c.baseURL(r) + c.o.APIRootPath }

func (c *console) feedList(w http.ResponseWriter, r *http.Request) {
	feeds, err := c.st.ListFeeds(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := feedListData{APIRoot: c.apiRootURL(r)}
	for _, f := range feeds {
		st, err := c.o.Admin.FeedStats(r.Context(), f)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		d.Feeds = append(d.Feeds, feedRow{Feed: f, Describe: feed.Describe(f.Filter), Count: st.Objects, Newest: st.Newest, IsDefault: feed.IsDefault(f.ID)})
	}
	c.render(w, r, http.StatusOK, "feeds", page{Title: "Feeds", Nav: "feeds", Data: d})
}

// feedFormData fills the create and edit forms.
type feedFormData struct {
	New       bool
	ID        string
	IsDefault bool
	Input     feedInput
	Flags     []feed.Flag
	TLPLevels []string
	APIRoot   string
	Count     int64
	Newest    int64
	Building  bool // its entries are still being gathered
}

func (d feedFormData) Checked(level string) bool {
	for _, l := range strings.Split(d.Input.Filter["tlp"], ",") {
		if l == level {
			return true
		}
	}
	return false
}

func (c *console) feedForm(w http.ResponseWriter, r *http.Request, status int, d feedFormData, errs fieldErrors, flash string) {
	d.Flags, d.TLPLevels, d.APIRoot = feed.Flags, tlpLevels, c.apiRootURL(r)
	title := "New feed"
	if !d.New {
		title = "Feed: " + d.Input.Title
	}
	c.render(w, r, status, "feed", page{Title: title, Nav: "feeds", Data: d, Errors: errs, Flash: flash})
}

func (c *console) feedNew(w http.ResponseWriter, r *http.Request) {
	c.feedForm(w, r, http.StatusOK, feedFormData{New: true, Input: feedInput{Filter: map[string]string{}}}, nil, "")
}

// inputOf reads a submitted feed form. Every filter is in the form, so an empty
// field clears its condition; an unchecked box is false.
func inputOf(r *http.Request) feedInput {
	in := feedInput{
		Title: r.PostFormValue("title"), Description: r.PostFormValue("description"), Alias: r.PostFormValue("alias"),
		Writable: r.PostFormValue("writable") != "", Filter: map[string]string{},
	}
	for _, fl := range feed.Flags {
		switch {
		case fl.Bool:
			in.Filter[fl.Name] = strconv.FormatBool(r.PostFormValue(fl.Name) != "")
		case fl.Name == "tlp":
			in.Filter[fl.Name] = strings.Join(r.PostForm[fl.Name], ",")
		default:
			in.Filter[fl.Name] = r.PostFormValue(fl.Name)
		}
	}
	return in
}

// inputFrom is a stored feed as form values.
func inputFrom(f store.Feed) feedInput {
	ff := f.Filter
	var tlp []string
	for _, l := range ff.TLP {
		tlp = append(tlp, strings.ToLower(feed.TLPName(l)))
	}
	conf := ""
	if ff.MinConfidence > 0 {
		conf = strconv.Itoa(ff.MinConfidence)
	}
	return feedInput{
		Title: f.Title, Description: f.Description, Alias: f.Alias, Writable: f.Writable,
		Filter: map[string]string{
			"types": strings.Join(ff.Types, ", "), "exclude-types": strings.Join(ff.ExcludeTypes, ", "),
			"tlp": strings.Join(tlp, ","), "sources": strings.Join(ff.Sources, ", "),
			"created-by": strings.Join(ff.CreatedBy, ", "), "min-confidence": conf,
			"labels": strings.Join(ff.Labels, ", "), "exclude-revoked": strconv.FormatBool(ff.ExcludeRevoked),
			"exclude-expired": strconv.FormatBool(ff.ExcludeExpired), "with-context": strconv.FormatBool(ff.WithContext),
		},
	}
}

func (c *console) feedCreate(w http.ResponseWriter, r *http.Request) {
	in := inputOf(r)
	f, err := c.o.Admin.CreateFeed(r.Context(), actor(r), in.change(false))
	if err != nil {
		c.feedFormError(w, r, feedFormData{New: true, Input: in}, err)
		return
	}
	http.Redirect(w, r, Path+"/feeds/"+f.ID+"?saved=created", http.StatusSeeOther)
}

// feedFormError shows a refused form again, the error next to its field; a store
// failure is a 500.
func (c *console) feedFormError(w http.ResponseWriter, r *http.Request, d feedFormData, err error) {
	if !refused(err) {
		c.fail(w, r, err)
		return
	}
	c.feedForm(w, r, http.StatusUnprocessableEntity, d, fieldOf(err), "")
}

func (c *console) loadFeed(w http.ResponseWriter, r *http.Request) (store.Feed, bool) {
	f, err := c.st.GetFeed(r.Context(), chi.URLParam(r, "feed"))
	if errors.Is(err, store.ErrNotFound) {
		c.errorPage(w, r, http.StatusNotFound, "There is no such feed.")
		return f, false
	}
	if err != nil {
		c.fail(w, r, err)
		return f, false
	}
	return f, true
}

func (c *console) feedEdit(w http.ResponseWriter, r *http.Request) {
	f, ok := c.loadFeed(w, r)
	if !ok {
		return
	}
	st, err := c.o.Admin.FeedStats(r.Context(), f)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	n, newest := st.Objects, st.Newest
	flash := map[string]string{"created": "Feed created.", "updated": "Feed saved."}[r.URL.Query().Get("saved")]
	c.feedForm(w, r, http.StatusOK, feedFormData{ID: f.ID, IsDefault: feed.IsDefault(f.ID), Input: inputFrom(f), Count: n, Newest: newest, Building: f.Building}, nil, flash)
}

func (c *console) feedUpdate(w http.ResponseWriter, r *http.Request) {
	old, ok := c.loadFeed(w, r)
	if !ok {
		return
	}
	in := inputOf(r)
	isDefault := feed.IsDefault(old.ID)
	f, err := c.o.Admin.UpdateFeed(r.Context(), actor(r), old.ID, in.change(isDefault))
	if err != nil {
		if isDefault {
			in.Filter = inputFrom(old).Filter
		}
		c.feedFormError(w, r, feedFormData{ID: old.ID, IsDefault: isDefault, Input: in}, err)
		return
	}
	http.Redirect(w, r, Path+"/feeds/"+f.ID+"?saved=updated", http.StatusSeeOther)
}

func (c *console) feedDelete(w http.ResponseWriter, r *http.Request) {
	f, ok := c.loadFeed(w, r)
	if !ok {
		return
	}
	if _, _, err := c.o.Admin.DeleteFeed(r.Context(), actor(r), f.ID); err != nil {
		if refused(err) {
			c.errorPage(w, r, http.StatusConflict, fieldOf(err)[""])
			return
		}
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Path+"/feeds", http.StatusSeeOther)
}

// countAnswer is the live count of the feed form, as JSON.
type countAnswer struct {
	Count    int64  `json:"count"`
	AtLeast  bool   `json:"at_least,omitempty"` // the count stopped at the service's cap
	Describe string `json:"describe,omitempty"`
	Error    string `json:"error,omitempty"`
	Field    string `json:"field,omitempty"`
}

// feedCount counts the objects a filter (the form's fields as query parameters) shows.
func (c *console) feedCount(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	values := map[string]string{}
	for _, fl := range feed.Flags {
		switch {
		case fl.Bool:
			values[fl.Name] = strconv.FormatBool(q.Get(fl.Name) != "")
		case fl.Name == "tlp":
			values[fl.Name] = strings.Join(q[fl.Name], ",")
		default:
			values[fl.Name] = q.Get(fl.Name)
		}
	}
	var a countAnswer
	filter, err := c.o.Admin.FilterFrom(r.Context(), values)
	if err == nil {
		a.Describe = feed.Describe(filter)
		var capped bool
		a.Count, capped, err = c.o.Admin.CountFilter(r.Context(), values)
		a.AtLeast = capped
	}
	switch {
	case err == nil:
	case refused(err):
		for field, msg := range fieldOf(err) {
			a.Field, a.Error = field, msg
		}
	case errors.Is(err, store.ErrBusy):
		a.Error = "The count took too long; it shows once the feed is saved."
	default:
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
