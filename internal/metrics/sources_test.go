package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestSourceRuns: each run adds its pulled objects and its failure to the
// source's counters, observes its duration, and sets the lag when known.
func TestSourceRuns(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := NewSources(reg)
	s.Run("vendor", 10, false, 2*time.Second, time.Minute)
	s.Run("vendor", 5, true, time.Second, -1)
	if got := testutil.ToFloat64(s.pulled.WithLabelValues("vendor")); got != 15 {
		t.Fatalf("pulled = %v, want 15", got)
	}
	if got := testutil.ToFloat64(s.errors.WithLabelValues("vendor")); got != 1 {
		t.Fatalf("errors = %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.lag.WithLabelValues("vendor")); got != 60 {
		t.Fatalf("lag = %v, want 60 (an unknown lag leaves it)", got)
	}
	if got := histogramCount(t, s.duration.WithLabelValues("vendor")); got != 2 {
		t.Fatalf("runs observed = %d, want 2", got)
	}
	var none *Sources
	none.Run("vendor", 1, true, time.Second, time.Second) // records nothing, does not panic
}
