package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/metrics"
	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/taxii"
	"github.com/inthreat/taxii-server/internal/usage"
)

// RequestIDHeader carries the request id: honoured from trusted proxies, always echoed.
const RequestIDHeader = "X-Request-Id"

// observe is the outermost middleware. Before the request it resolves the client
// through trusted proxies, gives the request an id (X-Request-Id in the response)
// and an obs.Info in its context; after it, it writes one log line and records
// the metrics, labelled by the route pattern chi matched, and the usage of the
// key that made it (usage.Recorder: memory only, no database on this path). It
// also turns a panic into a 500 that names the request id.
func observe(log *zap.Logger, m *metrics.Metrics, tally *usage.Recorder, proxies trustedProxies, routes chi.Routes, now func() time.Time) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := now()
			o := proxies.resolve(r)
			id := ""
			if o.trusted {
				id = r.Header.Get(RequestIDHeader)
			}
			if !validRequestID(id) {
				id = newRequestID()
			}
			info := obs.New(obs.Request{ID: id, Client: o.client, Scheme: o.scheme, Host: o.host})
			r = r.WithContext(obs.NewContext(r.Context(), info))
			w.Header().Set(RequestIDHeader, id)
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			m.RequestStarted()

			defer func() {
				if rec := recover(); rec != nil {
					if rec == http.ErrAbortHandler { //nolint:errorlint // a sentinel compared by identity, as net/http does
						// The handler aborted the response on purpose: count it, re-panic for net/http.
						status := ww.Status()
						if status == 0 {
							status = 499
						}
						snap, end := info.Snapshot(), now()
						m.RequestDone(metrics.Request{Method: r.Method, Route: routePattern(r), Status: status, Duration: end.Sub(start), Bytes: int64(ww.BytesWritten()), Info: snap, End: end})
						recordUsage(tally, snap, status, int64(ww.BytesWritten()), end)
						panic(rec)
					}
					log.Error("panic serving request", zap.String("request_id", id), zap.Any("panic", rec), zap.ByteString("stack", debug.Stack()))
					if ww.Status() == 0 {
						taxii.WriteInternalError(ww, r, id)
					}
				}
				end := now()
				status := ww.Status()
				if status == 0 {
					status = http.StatusOK // nothing written: net/http sends 200
				}
				route := routePattern(r)
				if metrics.RouteLabel(route) == "unmatched" {
					// Refused before the TAXII router routed it (authentication, negotiation):
					// still labelled by the route it was for.
					if p := findRoute(routes, r); p != "" {
						route = p
					}
				}
				snap := info.Snapshot()
				m.RequestDone(metrics.Request{
					Method: r.Method, Route: route, Status: status, Duration: end.Sub(start),
					Bytes: int64(ww.BytesWritten()), Info: snap, End: end,
				})
				recordUsage(tally, snap, status, int64(ww.BytesWritten()), end)
				level := zap.InfoLevel
				if snap.ErrorID != "" {
					level = zap.WarnLevel
				}
				if route == "/healthz" || route == "/readyz" || route == "/metrics" {
					level = zap.DebugLevel // probes and scrapes every few seconds would drown the log
				}
				if ce := log.Check(level, "request"); ce != nil {
					fields := []zap.Field{
						zap.String("request_id", id),
						zap.String("method", r.Method),
						zap.String("route", metrics.RouteLabel(route)),
						zap.String("path", r.URL.Path),
						zap.Int("status", status),
						zap.Duration("duration", end.Sub(start)),
						zap.Int("bytes", ww.BytesWritten()),
						zap.String("client", o.client),
						zap.String("key_name", snap.KeyName),
						zap.String("user_agent", r.UserAgent()),
					}
					if snap.FeedID != "" {
						fields = append(fields, zap.String("feed_id", snap.FeedID))
					}
					if r.Method == http.MethodGet || r.Method == http.MethodHead {
						fields = append(fields, queryFields(r.URL.Query())...)
					}
					if snap.ErrorID != "" {
						fields = append(fields, zap.String("error_id", snap.ErrorID), zap.String("error_code", snap.ErrorCode), zap.String("error", snap.Error))
					}
					if snap.Served > 0 {
						fields = append(fields, zap.Int("objects_served", snap.Served))
					}
					if snap.Imported > 0 || snap.Rejected > 0 {
						fields = append(fields, zap.Int("objects_imported", snap.Imported), zap.Int("objects_rejected", snap.Rejected))
					}
					ce.Write(fields...)
				}
			}()
			next.ServeHTTP(ww, r)
		})
	}
}

// recordUsage counts the request for its key, once the response is written; a
// refused poll (4xx, 5xx) is a request but not a poll.
func recordUsage(rec *usage.Recorder, snap obs.Snapshot, status int, bytes int64, end time.Time) {
	if rec == nil || snap.KeyID == "" {
		return
	}
	rec.Record(usage.Event{KeyID: snap.KeyID, FeedID: snap.FeedID, At: end, Poll: snap.Poll && status < 400,
		AddedAfter: snap.AddedAfter, Objects: int64(snap.Served), Bytes: bytes})
}

// maxQueryValue bounds each logged query parameter: match[id] lists can be long.
const maxQueryValue = 256

// queryFields are the TAXII read parameters worth seeing when debugging a poll:
// added_after, limit, whether a next cursor was sent (not the cursor), and the
// match filters. Nothing else from the query is logged; keys never travel there.
func queryFields(q url.Values) []zap.Field {
	var out []zap.Field
	clip := func(s string) string {
		if len(s) > maxQueryValue {
			return s[:maxQueryValue] + "..."
		}
		return s
	}
	if v := q.Get("added_after"); v != "" {
		out = append(out, zap.String("added_after", clip(v)))
	}
	if v := q.Get("limit"); v != "" {
		out = append(out, zap.String("limit", clip(v)))
	}
	if q.Has("next") {
		out = append(out, zap.Bool("next_sent", true))
	}
	for _, name := range []string{"id", "type", "version", "spec_version"} {
		if vs := q["match["+name+"]"]; len(vs) > 0 {
			out = append(out, zap.String("match_"+name, clip(strings.Join(vs, ","))))
		}
	}
	return out
}

// routePattern is the pattern chi matched, read after routing; "" when none did.
func routePattern(r *http.Request) string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return ""
	}
	return rctx.RoutePattern()
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// validRequestID accepts a proxy's request id when it is short and plain enough to log and echo.
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' || c == '=':
		default:
			return false
		}
	}
	return true
}
