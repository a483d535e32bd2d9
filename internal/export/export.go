// Package export serves feeds outside TAXII, as Sekoia.io does: a REST API of items and
// next_cursor, text, CSV and custom-template formats, IOC lookups, and blocklists for
// firewalls. It shares the store, the API keys and the feed filters with the TAXII API.
package export

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/admit"
	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/metrics"
	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// Options configures the export API. Defaults live in internal/config; zero values are refused.
type Options struct {
	// Prefix is the path the API sits under, without trailing slash: "/api/v2/inthreat"
	// for the API root /api/v2/inthreat/taxii-server/ (see PrefixOf).
	Prefix            string
	DefaultLimit      int  // items per page when the client gives no limit
	MaxLimit          int  // a larger limit is capped
	MaxScan           int  // most versions read to fill one page when filters skip some
	MaxTemplateLength int  // longest custom template, in bytes
	ListBatch         int  // blocklist entries read from the store at a time
	ListKeyInQuery    bool // blocklists also take the key as ?key=, for devices that cannot send headers
	// PerKey counts the requests in flight of each key; the TAXII API shares it, so
	// that one key's cap (429 past it) covers both APIs. Required.
	PerKey  *admit.PerKey
	Realm   string
	Metrics *metrics.Metrics // nil: none
	Now     func() time.Time // nil: time.Now
}

// PrefixOf derives the export prefix from the TAXII API root path: its parent
// ("/api/v2/inthreat/taxii-server/" gives "/api/v2/inthreat"), "" at the top.
func PrefixOf(apiRoot string) string {
	p := strings.TrimSuffix(apiRoot, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// Route is one endpoint of the export API, for the assembled server to register
// beside the TAXII API (server.Route has the same fields).
type Route struct {
	Method  string
	Pattern string
	Handler http.Handler
}

type handler struct {
	opts Options
	st   store.Store
	log  *zap.Logger
}

// Routes returns the export API, one route per endpoint, each behind authentication.
func Routes(opts Options, st store.Store, log *zap.Logger) ([]Route, error) {
	if st == nil {
		return nil, errors.New("export: nil store")
	}
	if log == nil {
		log = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Realm == "" {
		opts.Realm = "taxii"
	}
	if opts.DefaultLimit < 1 || opts.MaxLimit < opts.DefaultLimit || opts.MaxScan < opts.MaxLimit || opts.MaxTemplateLength < 1 || opts.ListBatch < 1 {
		return nil, fmt.Errorf("export: limits default %d, max %d, scan %d, template %d, list batch %d: want 1 <= default <= max <= scan, template and batch >= 1",
			opts.DefaultLimit, opts.MaxLimit, opts.MaxScan, opts.MaxTemplateLength, opts.ListBatch)
	}
	p := opts.Prefix
	if p != "" && (!strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.ContainsAny(p, "{}*?#% ")) {
		return nil, fmt.Errorf("export: prefix %q must be an absolute path without trailing slash", p)
	}
	if opts.PerKey == nil {
		return nil, errors.New("export: nil PerKey")
	}
	h := &handler{opts: opts, st: st, log: log}
	authn := auth.Middleware(auth.Config{Keys: st, Log: log, Fail: h.fail, Now: opts.Now})
	// The admission of the TAXII API: the connection cap before the key lookup, the key's cap after it.
	get := func(pattern string, fn http.HandlerFunc, mw ...func(http.Handler) http.Handler) Route {
		chain := append(append([]func(http.Handler) http.Handler{admit.ConnectionCap(h.fail)}, mw...), authn,
			admit.KeyCap(h.opts.PerKey, auth.KeyID, h.fail))
		return Route{Method: http.MethodGet, Pattern: p + pattern, Handler: chi.Chain(chain...).HandlerFunc(fn)}
	}
	gets := []Route{
		get("/collections/{feed}/objects", h.feedObjects),                   // items and next_cursor; format=text|csv|custom
		get("/collections/{feed}/lists/{kind}.txt", h.list, h.keyFromQuery), // blocklists
		get("/objects/{object}", h.object),                                  // one object, latest version, in the key's feeds
		get("/objects", h.objects),                                          // match[id]=a,b
		get("/indicators/context", h.indicatorContext),                      // IOC lookup: type, value
	}
	// HTTP requires HEAD wherever GET is served; devices check ETag and Last-Modified with it.
	routes := gets
	for _, g := range gets {
		routes = append(routes, Route{Method: http.MethodHead, Pattern: g.Pattern, Handler: headAsGet(g.Handler)})
	}
	return routes, nil
}

// headAsGet answers HEAD as GET without the body: the same status and headers.
// A handler whose body costs more than its headers asks isHead and stops there.
func headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.Clone(context.WithValue(r.Context(), headKey{}, true))
		r.Method = http.MethodGet
		next.ServeHTTP(bodiless{w}, r)
	})
}

type headKey struct{}

// isHead reports whether r is a HEAD request that headAsGet serves as a GET.
func isHead(r *http.Request) bool {
	head, _ := r.Context().Value(headKey{}).(bool)
	return head
}

// bodiless drops the body of a HEAD answer.
type bodiless struct{ http.ResponseWriter }

func (bodiless) Write(p []byte) (int, error) { return len(p), nil }

// keyFromQuery turns ?key= into a Bearer credential when the operator allowed it and the
// request carries no Authorization header. The key then sits in URLs, which proxies and
// device configurations may log; the server's own log never shows query strings.
func (h *handler) keyFromQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k := r.URL.Query().Get("key"); k != "" && h.opts.ListKeyInQuery && r.Header.Get("Authorization") == "" {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+k)
		}
		next.ServeHTTP(w, r)
	})
}

// apiError is a failure the client caused, with its status.
type apiError struct {
	status     int
	code       string
	message    string
	retryAfter int // seconds; > 0 sends Retry-After
}

func (e *apiError) Error() string { return e.message }

func badRequest(code, format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{status: http.StatusNotFound, code: "not_found", message: fmt.Sprintf(format, args...)}
}

// errorBody is the export API's error: {"message", "code", "error_id", "request_id"}.
type errorBody struct {
	Message   string `json:"message"`
	Code      string `json:"code"`
	ErrorID   string `json:"error_id"`
	RequestID string `json:"request_id,omitempty"`
}

// classify answers the export API's own refusals as they are, and every other
// error by the server's one table (taxii.Classify), in this API's body format.
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	c := taxii.Classify(err)
	return &apiError{status: c.Status, code: c.Code, message: c.Message, retryAfter: c.RetryAfter}
}

// fail writes err as a JSON error and logs it with the same error_id: 5xx at Error, 4xx at Warn.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := classify(err)
	body := errorBody{Message: ae.message, Code: ae.code, ErrorID: uuid.NewString(), RequestID: obs.RequestID(r.Context())}
	fields := []zap.Field{zap.String("error_id", body.ErrorID), zap.Int("http_status", ae.status), zap.String("error_code", ae.code),
		zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err)}
	if c := auth.FromContext(r.Context()); c != nil {
		fields = append(fields, zap.String("key_id", c.KeyID))
	}
	if ae.status >= 500 {
		h.log.Error("export request failed", fields...)
	} else {
		h.log.Warn("export request rejected", fields...)
	}
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+h.opts.Realm+`"`)
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	h.writeJSON(w, ae.status, body)
}

func (h *handler) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		h.log.Error("encode export response", zap.Error(err))
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"message":"internal error","code":"internal_error"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// readableFeed resolves {feed} (id or alias) to a feed the caller may read; any other is 404,
// and one whose entries are being built is store.ErrBuilding.
func (h *handler) readableFeed(r *http.Request) (store.Feed, error) {
	idOrAlias := pathParam(r, "feed")
	f, err := h.st.GetFeed(r.Context(), idOrAlias)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !auth.FromContext(r.Context()).CanRead(f.ID)) {
		return store.Feed{}, notFound("There is no feed %q.", idOrAlias)
	}
	if err == nil {
		obs.FromContext(r.Context()).SetFeed(f.ID)
	}
	if err == nil && f.Building { // its entries would show part of it
		return f, store.ErrBuilding
	}
	return f, err
}

// readableFeeds are the feeds the caller may read, in creation order; when one of them
// filters nothing, only that one, since it shows all the others show (one query, not one per feed).
// store.ErrBuilding when one of them is being built.
func (h *handler) readableFeeds(r *http.Request) ([]store.Feed, error) {
	all, err := h.st.ListFeeds(r.Context())
	if err != nil {
		return nil, err
	}
	c := auth.FromContext(r.Context())
	var out []store.Feed
	building := false
	for _, f := range all {
		if c.CanRead(f.ID) {
			if f.Filter.ShowsAll() {
				return []store.Feed{f}, nil
			}
			out = append(out, f)
			building = building || f.Building
		}
	}
	if building { // a lookup would miss what it has yet to gather
		return nil, store.ErrBuilding
	}
	return out, nil
}

func pathParam(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}
