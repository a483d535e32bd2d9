// Package server runs the HTTP server: the TAXII API plus the operations endpoints
// (/healthz, /readyz, /metrics), behind request logging, metrics, trusted-proxy
// handling and rate limiting, over HTTP or HTTPS, with graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/admit"
	"github.com/inthreat/taxii-server/internal/metrics"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/usage"
)

// Options assembles the main handler.
type Options struct {
	TAXII http.Handler // the TAXII API, mounted at "/"
	// Routes are served beside the TAXII API, behind the same middleware and rate limit
	// (the feed exports, internal/export).
	Routes []Route
	// Admin is the admin REST API (internal/admin), served under /admin/api/v1/
	// behind the same middleware and rate limit; nil: not served.
	Admin   http.Handler
	Store   Pinger      // for /readyz
	Log     *zap.Logger // nil: no logs
	Metrics *metrics.Metrics
	// Usage counts each key's requests, polls, objects and bytes; nil: not counted.
	Usage *usage.Recorder
	// MetricsHandler, when set, is served at GET /metrics on this handler
	// (TAXII_METRICS_ON_MAIN); otherwise /metrics is the TAXII handler's 404.
	MetricsHandler http.Handler
	// TrustedProxies are the peers whose forwarding headers are believed.
	TrustedProxies []netip.Prefix
	// RateLimit is the TAXII requests per second allowed per API key; 0: no limit.
	RateLimit float64
	RateBurst int
	// Console, when set, is the web console (internal/console), served at /console/
	// beside the TAXII API: it has its own sessions and login limit, not the key rate limit.
	Console http.Handler
	Now     func() time.Time // nil: time.Now
}

// New returns the main handler: operations endpoints beside the TAXII API, all
// behind the request middleware, the TAXII API also behind the rate limit.
func New(o Options) http.Handler {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := chi.NewRouter()
	routes, _ := o.TAXII.(chi.Routes)
	r.Use(observe(o.Log, o.Metrics, o.Usage, trustedProxies(o.TrustedProxies), routes, o.Now))
	r.Get("/healthz", healthz)
	r.Get("/readyz", readyz(o.Store, o.Log))
	if o.MetricsHandler != nil {
		r.Method(http.MethodGet, "/metrics", o.MetricsHandler)
	}
	if o.Console != nil {
		r.Mount(ConsolePath, o.Console)
	}
	r.Group(func(r chi.Router) {
		if o.RateLimit > 0 {
			r.Use(newLimiter(o.RateLimit, o.RateBurst, o.Now).middleware(o.Metrics, routes))
		}
		for _, rt := range o.Routes {
			r.Method(rt.Method, rt.Pattern, rt.Handler)
		}
		if o.Admin != nil {
			r.Mount(admin.Prefix, o.Admin)
		}
		r.Mount("/", o.TAXII)
	})
	return r
}

// Route is one endpoint served beside the TAXII API.
type Route struct {
	Method  string
	Pattern string
	Handler http.Handler
}

// MetricsHandler is the handler of the separate metrics listener (TAXII_METRICS_LISTEN):
// GET /metrics, /healthz for its own probe, 404 for anything else.
func MetricsHandler(h http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Method(http.MethodGet, "/metrics", h)
	r.Get("/healthz", healthz)
	return r
}

// Listener is one HTTP server Serve runs.
type Listener struct {
	Name     string // for logs: "taxii", "metrics"
	Listener net.Listener
	Handler  http.Handler
	TLS      *tls.Config // nil: plain HTTP
	// MaxConnections caps the open connections (0: none). Connections past it
	// are accepted so that their requests can be told 503 (admit.Conns).
	MaxConnections int
}

// Serve runs every listener until ctx ends or one fails, then stops accepting on all,
// lets in-flight requests finish for up to cfg.ShutdownTimeout, cuts what remains, and
// returns. Requests do not see ctx end: their contexts are only canceled when cut.
func Serve(ctx context.Context, cfg Timeouts, log *zap.Logger, ls ...Listener) error {
	if log == nil {
		log = zap.NewNop()
	}
	servers := make([]*http.Server, len(ls))
	errc := make(chan error, len(ls))
	for i, l := range ls {
		srv := &http.Server{
			Handler:           l.Handler,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ReadTimeout:       cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    64 << 10,
			TLSConfig:         l.TLS,
			ErrorLog:          zap.NewStdLog(log.Named("http").With(zap.String("listener", l.Name))),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		}
		ln := l.Listener
		if l.MaxConnections > 0 {
			conns := admit.NewConns(l.MaxConnections)
			ln = conns.Listener(ln)
			srv.ConnContext = conns.ConnContext
		}
		servers[i] = srv
		go func() {
			var err error
			if l.TLS != nil {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				err = fmt.Errorf("%s listener: %w", l.Name, err)
			} else {
				err = nil
			}
			errc <- err
		}()
	}
	var first error
	select {
	case first = <-errc:
		log.Error("listener failed; shutting down", zap.Error(first))
	case <-ctx.Done():
		log.Info("shutting down: draining in-flight requests", zap.Duration("timeout", cfg.ShutdownTimeout))
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	shutdownErrs := make([]error, len(servers))
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(sctx); err != nil {
				_ = srv.Close()
				shutdownErrs[i] = fmt.Errorf("%s listener: in-flight requests cut after %s: %w", ls[i].Name, cfg.ShutdownTimeout, err)
			}
		}()
	}
	wg.Wait()
	// Collect the serving goroutines: the one already read, if any, and the others.
	n := len(servers)
	if first != nil {
		n--
	}
	for range n {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return errors.Join(append([]error{first}, shutdownErrs...)...)
}

// Timeouts are the HTTP server's timeouts, as configured.
type Timeouts struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
}

// ExpireStatuses deletes expired status resources every interval until ctx ends,
// at most batch per run, so a backlog (after downtime) never makes one long
// delete; it drains over the following runs. Every replica may run it: the
// delete is idempotent.
func ExpireStatuses(ctx context.Context, st store.Statuses, every time.Duration, batch int, log *zap.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n, err := st.DeleteExpiredStatuses(ctx, now, batch); err != nil && ctx.Err() == nil {
				log.Warn("expire statuses", zap.Error(err))
			} else if n > 0 {
				log.Info("expired statuses", zap.Int("count", n))
			}
		}
	}
}
