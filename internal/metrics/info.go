package metrics

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/store"
)

// RegisterBuildInfo exposes taxii_build_info{version,goversion} = 1.
func RegisterBuildInfo(reg prometheus.Registerer, version string) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help: "Always 1; the labels name the running build.",
	}, []string{"version", "goversion"})
	g.WithLabelValues(version, runtime.Version()).Set(1)
	reg.MustRegister(g)
}

// RegisterTLSExpiry exposes the expiry of the certificate in use, read at each scrape
// (it changes when the certificate is reloaded).
func RegisterTLSExpiry(reg prometheus.Registerer, notAfter func() time.Time) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "tls", Name: "certificate_expiry_timestamp_seconds",
		Help: "Unix time at which the served TLS certificate expires.",
	}, func() float64 { return float64(notAfter().Unix()) }))
}

// FeedSource is what the feed collector reads.
type FeedSource interface {
	ListFeeds(ctx context.Context) ([]store.Feed, error)
	FeedStats(ctx context.Context, f store.FeedFilter) (count, newest int64, err error)
}

// feedCollector exposes each feed's identity, object count and newest date_added.
// Counting is a query per feed, so results are cached for ttl: scrapes, however
// frequent, cost at most one round per ttl and never touch the TAXII request path.
type feedCollector struct {
	src     FeedSource
	ttl     time.Duration
	timeout time.Duration
	log     *zap.Logger
	now     func() time.Time

	info, objects, newest *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	metrics []prometheus.Metric
}

// NewFeedCollector returns the collector of taxii_feed_info, taxii_feed_objects and
// taxii_feed_newest_date_added_timestamp_seconds, refreshed at most every ttl.
func NewFeedCollector(src FeedSource, ttl time.Duration, log *zap.Logger) prometheus.Collector {
	if log == nil {
		log = zap.NewNop()
	}
	return &feedCollector{
		src: src, ttl: ttl, timeout: 10 * time.Second, log: log, now: time.Now,
		info: prometheus.NewDesc(Namespace+"_feed_info", "Always 1; the labels give each feed's title and alias.",
			[]string{"feed", "title", "alias"}, nil),
		objects: prometheus.NewDesc(Namespace+"_feed_objects", "Objects (latest versions) the feed shows; refreshed at most every TAXII_FEED_STATS_TTL.",
			[]string{"feed"}, nil),
		newest: prometheus.NewDesc(Namespace+"_feed_newest_date_added_timestamp_seconds", "Unix time of the newest date_added among the feed's objects; absent when it is empty.",
			[]string{"feed"}, nil),
	}
}

func (c *feedCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.info
	ch <- c.objects
	ch <- c.newest
}

func (c *feedCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.metrics == nil || c.now().Sub(c.at) >= c.ttl {
		if ms, err := c.refresh(); err != nil {
			c.log.Warn("feed metrics: keeping the previous values", zap.Error(err))
		} else {
			c.metrics, c.at = ms, c.now()
		}
	}
	for _, m := range c.metrics {
		ch <- m
	}
}

func (c *feedCollector) refresh() ([]prometheus.Metric, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	feeds, err := c.src.ListFeeds(ctx)
	if err != nil {
		return nil, err
	}
	ms := []prometheus.Metric{}
	for _, f := range feeds {
		count, newest, err := c.src.FeedStats(ctx, f.Filter)
		if err != nil {
			return nil, err
		}
		ms = append(ms,
			prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, f.ID, f.Title, f.Alias),
			prometheus.MustNewConstMetric(c.objects, prometheus.GaugeValue, float64(count), f.ID))
		if newest > 0 {
			ms = append(ms, prometheus.MustNewConstMetric(c.newest, prometheus.GaugeValue, float64(newest)/1e6, f.ID))
		}
	}
	return ms, nil
}
