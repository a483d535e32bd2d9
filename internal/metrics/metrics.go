// Package metrics is the server's Prometheus instrumentation: HTTP requests by route
// pattern, objects served and imported, store latency and database pool statistics.
// Everything registers on a registry passed in; nothing is global.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/inthreat/taxii-server/internal/obs"
)

// Namespace prefixes every metric name.
const Namespace = "taxii"

// Metrics holds the server's collectors. A nil *Metrics records nothing.
type Metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	responseBytes *prometheus.CounterVec
	inFlight      prometheus.Gauge
	rateLimited   prometheus.Counter
	authFailures  *prometheus.CounterVec
	served        *prometheus.CounterVec
	imported      *prometheus.CounterVec
	rejected      *prometheus.CounterVec
	lastPoll      *prometheus.GaugeVec
	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec
	exports       *prometheus.CounterVec
	exportItems   *prometheus.CounterVec
}

// New creates the collectors and registers them, with the Go runtime and process
// collectors, on reg. It panics when a name is already registered there (a programming error).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time from request to the last byte of the response, by method and route pattern.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"method", "route"}),
		responseBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "response_bytes_total",
			Help: "Bytes of response bodies written, by method and route pattern.",
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_in_flight",
			Help: "Requests being served now.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "rate_limited_total",
			Help: "Requests refused with 429 by the per-key rate limit.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "auth_failures_total",
			Help: "Requests refused with 401 (no, unknown, wrong or revoked API key), by route pattern.",
		}, []string{"route"}),
		served: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "objects_served_total",
			Help: "STIX objects, manifest records and versions written to clients, by feed (collection id).",
		}, []string{"feed"}),
		imported: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "objects_imported_total",
			Help: "STIX objects accepted by add-objects requests, by feed (collection id).",
		}, []string{"feed"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "objects_rejected_total",
			Help: "STIX objects refused by add-objects requests, by feed (collection id).",
		}, []string{"feed"}),
		lastPoll: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "feed_last_poll_timestamp_seconds",
			Help: "Unix time of the last successful read of a feed, by API key name and feed (collection id).",
		}, []string{"key", "feed"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "store", Name: "operation_duration_seconds",
			Help:    "Store operation latency by operation; for scan_objects, until the page summary (first row).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "store", Name: "errors_total",
			Help: "Store operations that failed, by operation (not found, conflict and canceled requests excluded).",
		}, []string{"operation"}),
		exports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "export", Name: "responses_total",
			Help: "Successful feed exports by format (json, text, csv, custom) or blocklist (list_ipv4, ...); not_modified for 304s.",
		}, []string{"format", "result"}),
		exportItems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "export", Name: "items_total",
			Help: "Objects (feed exports) or entries (blocklists) written, by format or blocklist.",
		}, []string{"format"}),
	}
	reg.MustRegister(
		m.requests, m.duration, m.responseBytes, m.inFlight, m.rateLimited, m.authFailures,
		m.served, m.imported, m.rejected, m.lastPoll, m.storeDuration, m.storeErrors,
		m.exports, m.exportItems,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the registry's metrics in the Prometheus text format.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// Request is one finished HTTP request.
type Request struct {
	Method   string
	Route    string // chi route pattern; "" when no route matched
	Status   int
	Duration time.Duration
	Bytes    int64
	Info     obs.Snapshot // what inner code recorded
	End      time.Time
}

// RequestStarted and RequestDone bracket a request for the in-flight gauge.
func (m *Metrics) RequestStarted() {
	if m != nil {
		m.inFlight.Inc()
	}
}

// RequestDone records a finished request.
func (m *Metrics) RequestDone(r Request) {
	if m == nil {
		return
	}
	m.inFlight.Dec()
	method, route := MethodLabel(r.Method), RouteLabel(r.Route)
	m.requests.WithLabelValues(method, route, strconv.Itoa(r.Status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(r.Duration.Seconds())
	m.responseBytes.WithLabelValues(method, route).Add(float64(r.Bytes))
	if r.Status == http.StatusUnauthorized {
		m.authFailures.WithLabelValues(route).Inc()
	}
	in := r.Info
	if in.FeedID == "" {
		return
	}
	if in.Served > 0 {
		m.served.WithLabelValues(in.FeedID).Add(float64(in.Served))
	}
	if in.Imported > 0 {
		m.imported.WithLabelValues(in.FeedID).Add(float64(in.Imported))
	}
	if in.Rejected > 0 {
		m.rejected.WithLabelValues(in.FeedID).Add(float64(in.Rejected))
	}
	// A poll is a successful read of a collection's resources (objects, manifest, versions),
	// not of a status resource, which also names the feed.
	if r.Method == http.MethodGet && r.Status == http.StatusOK && in.KeyName != "" && strings.Contains(r.Route, "/collections/") {
		m.lastPoll.WithLabelValues(in.KeyName, in.FeedID).Set(float64(r.End.UnixNano()) / 1e9)
	}
}

// Exported records one export response of format (json, text, csv, custom, list_ipv4, ...)
// that wrote items objects or entries; notModified for a 304.
func (m *Metrics) Exported(format string, items int, notModified bool) {
	if m == nil {
		return
	}
	result := "ok"
	if notModified {
		result = "not_modified"
	}
	m.exports.WithLabelValues(format, result).Inc()
	m.exportItems.WithLabelValues(format).Add(float64(items))
}

// RateLimited counts a request refused by the rate limit.
func (m *Metrics) RateLimited() {
	if m != nil {
		m.rateLimited.Inc()
	}
}

// MethodLabel bounds the method label to the standard methods; clients may send anything.
func MethodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// RouteLabel is the route pattern, or "unmatched" for requests no route matched:
// never the raw URL, so the label set stays bounded.
func RouteLabel(pattern string) string {
	if pattern == "" || pattern == "/*" {
		return "unmatched"
	}
	return pattern
}
