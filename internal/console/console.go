// Package console is the web console: server-rendered pages (html/template, assets
// embedded in the binary) to manage feeds and keys, see usage, import and browse
// intelligence, behind a login with an admin API key. The core forms work without
// JavaScript; a little script adds copy buttons, a live feed count and upload progress.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
)

// Path is where the server mounts the console; links are built under it.
const Path = "/console"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the console. Limits come from internal/config.
type Options struct {
	// Admin manages feeds and keys: the rules of the CLI and the admin API.
	Admin *admin.Service
	Log   *zap.Logger
	// Secret signs session cookies and CSRF tokens; at least 32 bytes, the same
	// on every replica (SessionSecret derives it from the store's cursor secret).
	Secret      []byte
	SessionTTL  time.Duration
	APIRootPath string // for the Sentinel values: API root URL
	// PublicBaseURL is scheme://host of absolute URLs; "": from the request.
	PublicBaseURL string
	// LoginAllowed rate-limits login attempts per client address
	// (server.AddressLimiter); nil: no limit.
	LoginAllowed func(client string) (bool, time.Duration)
	Now          func() time.Time // nil: time.Now
}

// SessionSecret derives the console's signing secret from the store's cursor
// secret (store.Settings), so every replica shares it without a secret of its own;
// the label keeps a session token from ever being a valid cursor MAC and back.
func SessionSecret(ctx context.Context, st store.Settings) ([]byte, error) {
	s, err := st.CursorSecret(ctx)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, s)
	m.Write([]byte("taxii-server web console sessions v1"))
	return m.Sum(nil), nil
}

type console struct {
	o        Options
	st       store.Store // reads; every change goes through o.Admin
	pages    map[string]*template.Template
	sessions *sessions
}

// New returns the console's handler, to be mounted at Path.
func New(o Options) (http.Handler, error) {
	if o.Admin == nil {
		return nil, errors.New("console: no admin service")
	}
	if len(o.Secret) < 32 {
		return nil, errors.New("console: secret shorter than 32 bytes")
	}
	if o.SessionTTL <= 0 {
		return nil, errors.New("console: no session lifetime")
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &console{o: o, st: o.Admin.Store(), pages: pages, sessions: newSessions(o.Secret, o.SessionTTL, o.Now)}
	return c.routes(), nil
}

// routes is the console's one route table.
func (c *console) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders)
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix(Path+"/static/", http.FileServerFS(static))
	r.Get("/static/{file}", files.ServeHTTP)
	r.Get("/login", c.loginForm)
	r.Post("/login", c.login)
	r.Group(func(r chi.Router) {
		r.Use(c.requireSession)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, Path+"/feeds", http.StatusSeeOther) })
		r.Post("/logout", c.logout)

		r.Get("/feeds", c.feedList)
		r.Get("/feeds/new", c.feedNew)
		r.Post("/feeds", c.feedCreate)
		r.Get("/feeds/count", c.feedCount)
		r.Get("/feeds/{feed}", c.feedEdit)
		r.Post("/feeds/{feed}", c.feedUpdate)
		r.Post("/feeds/{feed}/delete", c.feedDelete)

		r.Get("/keys", c.keyList)
		r.Post("/keys", c.keyCreate)
		r.Post("/keys/{key}/revoke", c.keyRevoke)
		r.Post("/keys/{key}/rotate", c.keyRotate)

		r.Get("/usage", c.usagePage)

		r.Get("/import", c.importForm)
		r.Post("/import", c.importUpload)
		r.Get("/import/{job}", c.importJob)

		r.Get("/objects", c.objectSearch)
		r.Get("/objects/{object}", c.objectVersions)

		r.Get("/sources", c.sourceList)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		c.errorPage(w, r, http.StatusNotFound, "There is no such page.")
	})
	return r
}

// csp allows scripts and styles from the console's own files only: no inline
// script, no inline style, no framing, forms posting back here only.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if !strings.HasPrefix(r.URL.Path, Path+"/static/") {
			// Pages show keys once and feed settings: never kept in a cache.
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// secure reports whether the client reached the server over HTTPS (directly,
// or through a trusted proxy that says so): cookies are then Secure.
func secure(r *http.Request) bool { return strings.HasPrefix(obs.BaseURL(r), "https://") }

// baseURL is scheme://host for absolute URLs shown to the user.
func (c *console) baseURL(r *http.Request) string {
	if c.o.PublicBaseURL != "" {
		return c.o.PublicBaseURL
	}
	return obs.BaseURL(r)
}

// fail answers a store failure: the detail goes to the log with the request id,
// the page names only the id.
func (c *console) fail(w http.ResponseWriter, r *http.Request, err error) {
	id := obs.RequestID(r.Context())
	status := http.StatusInternalServerError
	msg := fmt.Sprintf("Something went wrong (request %s); the server log has the detail.", id)
	if errors.Is(err, store.ErrBusy) {
		status = http.StatusServiceUnavailable
		msg = "The database is busy; try again in a moment."
		w.Header().Set("Retry-After", "5")
	}
	c.o.Log.Error("console", zap.String("request_id", id), zap.String("path", r.URL.Path), zap.Error(err))
	c.errorPage(w, r, status, msg)
}

// caller is the admin behind a request that passed requireSession.
func caller(r *http.Request) *auth.Caller { return auth.FromContext(r.Context()) }
