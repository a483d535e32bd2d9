package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sources are the metrics of upstream source pulls, labelled by source name
// (a handful, set by an admin: bounded). A nil *Sources records nothing.
type Sources struct {
	pulled   *prometheus.CounterVec
	errors   *prometheus.CounterVec
	lag      *prometheus.GaugeVec
	duration *prometheus.HistogramVec
}

// NewSources creates the upstream source collectors and registers them on reg.
func NewSources(reg prometheus.Registerer) *Sources {
	s := &Sources{
		pulled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "source", Name: "objects_pulled_total",
			Help: "STIX objects received from an upstream TAXII source, by source.",
		}, []string{"source"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "source", Name: "errors_total",
			Help: "Pulls of an upstream source that ended in an error, by source.",
		}, []string{"source"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "source", Name: "lag_seconds",
			Help: "Now minus the source's watermark (the upstream date_added reached), after its last run.",
		}, []string{"source"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "source", Name: "run_duration_seconds",
			Help:    "Duration of one pull of an upstream source, by source.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"source"}),
	}
	reg.MustRegister(s.pulled, s.errors, s.lag, s.duration)
	return s
}

// Run records one run of source: objects pulled, whether it failed, its
// duration, and the lag after it (negative: unknown, not set).
func (s *Sources) Run(source string, pulled int, failed bool, d, lag time.Duration) {
	if s == nil {
		return
	}
	s.pulled.WithLabelValues(source).Add(float64(pulled))
	if failed {
		s.errors.WithLabelValues(source).Inc()
	} else {
		s.errors.WithLabelValues(source).Add(0)
	}
	s.duration.WithLabelValues(source).Observe(d.Seconds())
	if lag >= 0 {
		s.lag.WithLabelValues(source).Set(lag.Seconds())
	}
}
