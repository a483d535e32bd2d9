package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/admit"
	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// apiError is an error with its TAXII rendering; handlers return these for
// every failure the client caused. Anything else becomes a generic 500.
type apiError struct {
	status      int
	code        string // stable error_code for clients
	description string
	retryAfter  int // seconds; > 0 sends Retry-After: the refusal is about load, not the request
}

func (e *apiError) Error() string { return e.description }

func badRequest(code, format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, code: code, description: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{status: http.StatusNotFound, code: "not_found", description: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) error {
	return &apiError{status: http.StatusForbidden, code: "forbidden", description: fmt.Sprintf(format, args...)}
}

func tooLarge(code, format string, args ...any) error {
	return &apiError{status: http.StatusRequestEntityTooLarge, code: code, description: fmt.Sprintf(format, args...)}
}

var errUnsupportedMediaType = &apiError{
	status:      http.StatusUnsupportedMediaType,
	code:        "unsupported_media_type",
	description: "Add Objects takes a TAXII envelope sent with Content-Type: " + MediaTypeTAXII + ".",
}

var errNotAcceptable = &apiError{
	status:      http.StatusNotAcceptable,
	code:        "not_acceptable",
	description: "This server answers only with " + MediaTypeTAXII + "; send an Accept header that allows it, or none.",
}

// ErrInvalidInput is the sentinel of input the caller must correct, for the
// management API (internal/admin), whose errors wrap it with their own message.
var ErrInvalidInput = errors.New("invalid input")

// ErrForbidden is the sentinel of an authenticated caller that may not do what
// it asks (a key that is not an admin, on the management API).
var ErrForbidden = errors.New("forbidden")

// errorResource is the TAXII error message (spec 3.6.1).
type errorResource struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	ErrorID     string `json:"error_id,omitempty"`
	ErrorCode   string `json:"error_code,omitempty"`
	HTTPStatus  string `json:"http_status,omitempty"`
	// Details carries request_id, the id of the request in the access log
	// (X-Request-Id), when the server middleware assigned one.
	Details map[string]string `json:"details,omitempty"`
}

// classify is the one table from errors to HTTP statuses.
func classify(err error) *apiError {
	var ae *apiError
	var tooBig *http.MaxBytesError
	var decodeErr *stix.DecodeError
	var keyBusy *admit.KeyBusyError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &tooBig): // before DecodeError: the decoder wraps the body's read error
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "body_too_large",
			description: fmt.Sprintf("The body is larger than max_content_length, %d bytes (see the API root); send the objects in several requests.", tooBig.Limit)}
	case errors.As(err, &decodeErr):
		return decodeError(decodeErr)
	case errors.Is(err, auth.ErrUnauthenticated):
		return &apiError{status: http.StatusUnauthorized, code: "unauthorized",
			description: "A valid API key is required: send it as the password of HTTP Basic authentication (any username) or as \"Authorization: Bearer <key>\"."}
	case errors.Is(err, store.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: "not_found", description: "The requested resource does not exist."}
	case errors.Is(err, admit.ErrOverloaded):
		return &apiError{status: http.StatusServiceUnavailable, code: "too_many_connections", retryAfter: 1,
			description: "The server has as many connections open as it takes; retry in a moment, or reuse a connection."}
	case errors.As(err, &keyBusy):
		return &apiError{status: http.StatusTooManyRequests, code: "too_many_requests", retryAfter: 1,
			description: fmt.Sprintf("This API key has %d requests in progress, the most one key may have; retry once one of them is done.", keyBusy.Max)}
	case errors.Is(err, store.ErrBuilding):
		return &apiError{status: http.StatusServiceUnavailable, code: "feed_building", retryAfter: 30,
			description: "This collection's filter has just been set or changed and its objects are still being gathered; retry in a minute."}
	case errors.Is(err, store.ErrBusy):
		return &apiError{status: http.StatusServiceUnavailable, code: "database_busy", retryAfter: 5,
			description: "The database did not answer within its time limit; retry in a few seconds."}
	case errors.Is(err, store.ErrOtherSource):
		return &apiError{status: http.StatusForbidden, code: "other_source",
			description: "The object belongs to another source: only its own source or an admin key may change it."}
	case errors.Is(err, ErrInvalidInput):
		return &apiError{status: http.StatusBadRequest, code: "invalid_input", description: "The request's input is not valid."}
	case errors.Is(err, ErrForbidden):
		return &apiError{status: http.StatusForbidden, code: "forbidden", description: "This API key may not do this."}
	case errors.Is(err, store.ErrConflict):
		return &apiError{status: http.StatusConflict, code: "conflict", description: "The request conflicts with the current state of the resource."}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal_error",
		description: "The server failed to answer this request; give the error_id to its operator."}
}

// Classification is how an error is answered over HTTP: the status, a stable
// code, a description for the client and, for refusals about load, how many
// seconds to wait. Other APIs of the server (the export API) render it in
// their own body format, so that one table maps errors to statuses.
type Classification struct {
	Status     int
	Code       string
	Message    string
	RetryAfter int
}

// Classify is classify for other packages.
func Classify(err error) Classification {
	ae := classify(err)
	return Classification{Status: ae.status, Code: ae.code, Message: ae.description, RetryAfter: ae.retryAfter}
}

// decodeError explains a body Add Objects cannot read at all. Spec 5.5 answers
// "a malformed body, or other unprocessable content" with 422; its 400 is for a
// request the server did not understand (its parameters).
func decodeError(e *stix.DecodeError) *apiError {
	desc := "The body is not a usable TAXII envelope: " + e.Error() + "."
	if errors.Is(e.Err, stix.ErrNotEnvelope) {
		desc += ` Add Objects takes a TAXII envelope, {"objects": [...]}, and nothing else (spec 5.5); ` +
			`to send a STIX bundle, send its objects array in an envelope, e.g. jq '{objects: .objects}' bundle.json.`
	}
	return &apiError{status: http.StatusUnprocessableEntity, code: "invalid_body", description: desc}
}

// clientWriteError is a failed write to the client: its connection is gone
// (reset, broken pipe, stream closed), whatever the error says.
type clientWriteError struct{ err error }

func (e *clientWriteError) Error() string { return "write to client: " + e.err.Error() }
func (e *clientWriteError) Unwrap() error { return e.err }

// clientLeft reports whether err means the client went away: a write to it
// failed, or its request was canceled. That is no server failure to log as one,
// and nobody is left to answer.
func clientLeft(r *http.Request, err error) bool {
	var we *clientWriteError
	return errors.As(err, &we) || (r.Context().Err() != nil && errors.Is(err, context.Canceled))
}

// fail renders err as a TAXII error resource and logs it with the same error_id:
// 5xx at Error with the detail, 4xx at Warn.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := classify(err)
	id := uuid.NewString()
	fields := []zap.Field{
		zap.String("error_id", id),
		zap.Int("http_status", ae.status),
		zap.String("error_code", ae.code),
		zap.String("method", r.Method),
		zap.String("path", r.URL.Path),
		zap.Error(err),
	}
	if c := auth.FromContext(r.Context()); c != nil {
		fields = append(fields, zap.String("key_id", c.KeyID))
	}
	rid := obs.RequestID(r.Context())
	if rid != "" {
		fields = append(fields, zap.String("request_id", rid))
	}
	if ae.status >= 500 && clientLeft(r, err) {
		// The client went away; nobody is left to answer.
		h.log.Warn("request abandoned by client", fields...)
		return
	}
	switch info := obs.FromContext(r.Context()); {
	case ae.status >= 500:
		h.log.Error("request failed", fields...)
	case info != nil:
		// The request's own log line (server middleware) carries it: one line per refusal.
		info.SetError(id, ae.code, err.Error())
	default:
		h.log.Warn("request rejected", fields...)
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
	}
	WriteError(w, r, ae.status, ae.code, ae.description, id)
}

// WriteError writes a TAXII error resource (spec 3.6.1): the one writer of error
// bodies, for the API and for the server middleware around it (rate limit, panics).
// errorID names the error's log line; details.request_id is the request's id
// (X-Request-Id), when the server middleware assigned one.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, description, errorID string) {
	res := errorResource{
		Title:       http.StatusText(status),
		Description: description,
		ErrorID:     errorID,
		ErrorCode:   code,
		HTTPStatus:  strconv.Itoa(status),
	}
	if rid := obs.RequestID(r.Context()); rid != "" {
		res.Details = map[string]string{"request_id": rid}
	}
	b, _ := encodeJSON(res) // plain strings: it cannot fail
	writeBody(w, status, b)
}

// WriteInternalError writes the generic 500 of a failure logged under errorID.
func WriteInternalError(w http.ResponseWriter, r *http.Request, errorID string) {
	ae := classify(nil)
	WriteError(w, r, ae.status, ae.code, ae.description, errorID)
}

// writeJSON is the response helper for small resources (everything but pages).
func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := encodeJSON(v)
	if err != nil {
		h.log.Error("encode response", zap.String("path", r.URL.Path), zap.Error(err))
		status = http.StatusInternalServerError
		b = []byte(`{"title":"Internal Server Error","http_status":"500"}`)
	}
	writeBody(w, status, b)
}

// encodeJSON encodes v without HTML escaping and without a trailing newline:
// {} on an empty page is exactly {}.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", MediaTypeTAXII)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, notFound("There is no TAXII endpoint at %s; discovery is at /taxii2/ and the API root at %s/.", r.URL.Path, h.root))
}

// methodNotAllowed answers 405 with the Allow header chi's custom handlers lack.
func (h *handler) methodNotAllowed(routes chi.Routes) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePath != "" {
			path = rctx.RoutePath
		}
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if routes.Match(chi.NewRouteContext(), m, path) {
				allowed = append(allowed, m)
				if m == http.MethodGet {
					allowed = append(allowed, http.MethodHead)
				}
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		h.fail(w, r, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
			description: fmt.Sprintf("%s is not supported here; allowed: %s.", r.Method, strings.Join(allowed, ", "))})
	}
}
