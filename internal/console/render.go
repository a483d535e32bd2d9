package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
)

// page is what every template receives.
type page struct {
	Title  string
	Nav    string // the menu entry to mark current
	CSRF   string // the form token: the session's, or the login form's
	User   string // the admin key's name; "" on the login page
	Flash  string // a one-line success message
	Errors fieldErrors
	Data   any
}

// fieldErrors are messages shown next to the form field they name; "" is the form's.
type fieldErrors map[string]string

func (e fieldErrors) Any() bool {
	for _, m := range e {
		if m != "" {
			return true
		}
	}
	return false
}

var funcs = template.FuncMap{
	"path": func(parts ...string) string { return Path + "/" + strings.Join(parts, "/") },
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"added": func(us int64) string {
		if us == 0 {
			return "—"
		}
		return store.FormatDateAdded(us)
	},
	"join":       strings.Join,
	"size":       size,
	"navEntries": func() []navEntry { return nav },
	"field": func(name, label, value, hint string, errs fieldErrors) textField {
		return textField{Name: name, Label: label, Value: value, Hint: hint, Error: errs[name]}
	},
	"has": func(list []string, v string) bool {
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	},
}

// size writes a byte count for people: 812 B, 4.2 KiB, 1.5 GiB.
func size(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n), ""
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v, unit = v/1024, u
		if v < 1024 {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// textField is one labelled text input of a form.
type textField struct{ Name, Label, Value, Hint, Error string }

type navEntry struct{ Path, Label string }

// nav is the menu, in order.
var nav = []navEntry{
	{"feeds", "Feeds"}, {"keys", "Keys"}, {"usage", "Usage"}, {"import", "Import"},
	{"objects", "Intelligence"}, {"sources", "Sources"},
}

// parsePages parses each page template with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a page. It renders into a buffer first, so a template error is a
// clean 500, never half a page.
func (c *console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if ss, ok := sessionFrom(r); ok {
		p.CSRF = c.sessions.csrf(ss.nonce)
		p.User = caller(r).Name
	}
	if p.Errors == nil {
		p.Errors = fieldErrors{}
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.o.Log.Error("console: template", zap.String("request_id", obs.RequestID(r.Context())), zap.String("page", name), zap.Error(err))
		http.Error(w, "console: template error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *console) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c.render(w, r, status, "error", page{Title: http.StatusText(status), Data: msg})
}
