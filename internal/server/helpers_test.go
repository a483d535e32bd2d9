package server

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// okPinger is a store that is always ready.
type okPinger struct{}

func (okPinger) Ping(context.Context) error        { return nil }
func (okPinger) CheckSchema(context.Context) error { return nil }

// fakeTAXII stands in for the TAXII handler: a chi router whose handlers fill
// the obs record the way the real auth middleware and handlers do.
func fakeTAXII() http.Handler {
	r := chi.NewRouter()
	r.Get("/taxii2/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", taxii.MediaTypeTAXII)
		fmt.Fprintf(w, `{"api_roots":["%s/api/root/"]}`, obs.BaseURL(r))
	})
	r.Get("/api/root/collections/{collection}/objects/", func(w http.ResponseWriter, r *http.Request) {
		info := obs.FromContext(r.Context())
		info.SetKey("sentinel-id", "sentinel")
		info.SetFeed(chi.URLParam(r, "collection"))
		w.Header().Set("Content-Type", taxii.MediaTypeTAXII)
		_, _ = w.Write([]byte(`{"objects":[{},{},{}]}`))
		info.AddServed(3)
	})
	r.Post("/api/root/collections/{collection}/objects/", func(w http.ResponseWriter, r *http.Request) {
		info := obs.FromContext(r.Context())
		info.SetKey("writer-id", "writer")
		info.SetFeed(chi.URLParam(r, "collection"))
		info.AddImported(2, 1)
		w.WriteHeader(http.StatusAccepted)
	})
	r.Get("/panic/", func(http.ResponseWriter, *http.Request) { panic("boom") })
	r.Get("/echo/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s %s", obs.FromContext(r.Context()).Client(), r.Host, r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-For"))
	})
	return r
}

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// metricValue finds the sample of name whose labels include want; its counter,
// gauge or histogram count.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) (float64, bool) {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			return sampleValue(f.GetType(), m), true
		}
	}
	return 0, false
}

func sampleValue(typ dto.MetricType, m *dto.Metric) float64 {
	switch typ {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
