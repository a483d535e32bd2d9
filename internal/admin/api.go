package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// Prefix is where the admin API is served.
const Prefix = "/admin/api/v1"

// API is the admin REST API: JSON in and out, admin keys only.
type API struct {
	svc     *Service
	log     *zap.Logger
	now     func() time.Time
	maxBody int64
	realm   string
}

// APIOptions wires the API. Defaults live in internal/config.
type APIOptions struct {
	MaxBody int64            // largest request body in bytes
	Realm   string           // of WWW-Authenticate on 401; "": taxii
	Now     func() time.Time // nil: time.Now
}

// NewHandler returns the admin API, every route behind authentication and the admin role.
func NewHandler(svc *Service, log *zap.Logger, o APIOptions) (http.Handler, error) {
	if svc == nil {
		return nil, errors.New("admin: nil service")
	}
	if o.MaxBody < 1 {
		return nil, fmt.Errorf("admin: max body %d: want >= 1", o.MaxBody)
	}
	if so := svc.opts; so.ListLimit < 1 || so.MaxListLimit < so.ListLimit || so.CountMax < 1 || so.CountTimeout <= 0 || so.PreviewObjects < 0 {
		return nil, fmt.Errorf("admin: list limit %d, max %d, count max %d, count timeout %s, preview %d: want 1 <= limit <= max, count max >= 1, timeout > 0, preview >= 0",
			so.ListLimit, so.MaxListLimit, so.CountMax, so.CountTimeout, so.PreviewObjects)
	}
	if log == nil {
		log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Realm == "" {
		o.Realm = "taxii"
	}
	a := &API{svc: svc, log: log, now: o.Now, maxBody: o.MaxBody, realm: o.Realm}
	r := chi.NewRouter()
	r.Use(auth.Middleware(auth.Config{Keys: svc.st, Log: log, Fail: a.fail, Now: o.Now}), a.adminOnly, jsonOnly(a))
	for _, rt := range a.routes() {
		r.Method(rt.method, rt.pattern, rt.handler)
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, &Error{Err: errNoRoute, Message: "There is no such admin endpoint; see api/openapi.yaml."})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, &Error{Err: errNoRoute, Message: "This admin endpoint does not take " + r.Method + "."})
	})
	return r, nil
}

// errNoRoute answers 404 through the error table.
var errNoRoute = fmt.Errorf("admin route: %w", store.ErrNotFound)

// route is one endpoint, relative to Prefix.
type route struct {
	method  string
	pattern string
	handler http.HandlerFunc
}

// jsonOnly refuses a change (any method but GET and HEAD) not sent as
// application/json, body or not. A browser holding Basic credentials for the
// server sends them with any cross-site form or simple request; none of those
// can carry this content type without a CORS preflight, which is never
// granted, so a page elsewhere cannot make an admin's browser change anything.
func jsonOnly(a *API) func(http.Handler) http.Handler {
	// None of these is a type a simple request may carry, so the reasoning
	// holds for each; the others are what an import's body may be.
	changeTypes := map[string]bool{"application/json": true, "application/x-ndjson": true,
		"application/stix+json": true, "application/taxii+json": true}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || !changeTypes[mt] {
					a.fail(w, r, invalid("", "Send changes with Content-Type: application/json (also when the body is empty; "+
						"an import may also be application/x-ndjson, application/stix+json or application/taxii+json)."))
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// adminOnly refuses keys that are not admins (403); authentication ran before.
func (a *API) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !auth.FromContext(r.Context()).IsAdmin() {
			a.fail(w, r, &Error{Err: taxii.ErrForbidden, Message: "The admin API takes admin keys only."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// actor is who makes the request: the admin key, from the address the
// trusted-proxy rules resolved (obs).
func actor(r *http.Request) Actor {
	c := auth.FromContext(r.Context())
	a := Actor{Address: obs.FromContext(r.Context()).Client()}
	if c != nil {
		a.KeyID, a.Name = c.KeyID, c.Name
	}
	return a
}

// errorBody is the admin API's error: {"error", "code", "field", "candidates", "error_id", "request_id"}.
type errorBody struct {
	Error      string         `json:"error"`
	Code       string         `json:"code"`
	Field      string         `json:"field,omitempty"`
	Candidates []keyCandidate `json:"candidates,omitempty"`
	ErrorID    string         `json:"error_id"`
	RequestID  string         `json:"request_id,omitempty"`
}

type keyCandidate struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// fail renders err through the one error table (taxii.Classify): the status and
// code come from it, the message from an *Error when there is one. It logs with
// the same error_id: 5xx at Error, 4xx at Warn.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	c := taxii.Classify(err)
	body := errorBody{Error: c.Message, Code: c.Code, ErrorID: uuid.NewString(), RequestID: obs.RequestID(r.Context())}
	var ae *Error
	if errors.As(err, &ae) && c.Status < 500 {
		body.Error, body.Field = ae.Message, ae.Field
		for _, k := range ae.Candidates {
			body.Candidates = append(body.Candidates, keyCandidate{ID: k.ID, Name: k.Name, Role: string(k.Role),
				CreatedAt: k.CreatedAt.UTC(), LastUsedAt: optTime(k.LastUsedAt)})
		}
	}
	fields := []zap.Field{zap.String("error_id", body.ErrorID), zap.Int("http_status", c.Status), zap.String("error_code", c.Code),
		zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err)}
	if caller := auth.FromContext(r.Context()); caller != nil {
		fields = append(fields, zap.String("key_id", caller.KeyID))
	}
	if c.Status >= 500 {
		a.log.Error("admin request failed", fields...)
	} else {
		a.log.Warn("admin request rejected", fields...)
	}
	if c.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+a.realm+`"`)
	}
	if c.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(c.RetryAfter))
	}
	a.writeJSON(w, c.Status, body)
}

// writeJSON writes v with status; admin answers are never cached.
func (a *API) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		a.log.Error("encode admin response", zap.Error(err))
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error","code":"internal_error"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// decode reads a JSON body of at most maxBody bytes into v, refusing unknown fields.
func (a *API) decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, a.maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return invalid("", "The body is larger than %d bytes.", a.maxBody)
		}
		if errors.Is(err, io.EOF) {
			return invalid("", "The body is empty; send a JSON object.")
		}
		return invalid("", "The body is not the JSON object this endpoint takes: %v.", err)
	}
	if dec.More() {
		return invalid("", "The body holds more than one JSON value.")
	}
	return nil
}

func pathParam(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// listParams reads limit and after (the id of the last item of the previous page).
func (a *API) listParams(r *http.Request) (limit int, after string, err error) {
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, "", invalid("limit", "limit %q is not a whole number of at least 1", v)
		}
		limit = n
	}
	return a.svc.Limit(limit), q.Get("after"), nil
}

// page returns the items after the one whose id is after, at most limit, and
// the id to ask for the next page with ("" when this is the last).
func page[T any](items []T, id func(T) string, after string, limit int) ([]T, string) {
	start := 0
	if after != "" {
		start = len(items) // an unknown after: nothing follows it
		for i, it := range items {
			if id(it) == after {
				start = i + 1
				break
			}
		}
	}
	items = items[start:]
	if len(items) <= limit {
		return items, ""
	}
	return items[:limit], id(items[limit-1])
}
