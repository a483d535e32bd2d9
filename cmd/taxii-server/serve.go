package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/admit"
	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/export"
	"github.com/inthreat/taxii-server/internal/feed"
	"github.com/inthreat/taxii-server/internal/metrics"
	"github.com/inthreat/taxii-server/internal/server"
	"github.com/inthreat/taxii-server/internal/sources"
	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres"
	"github.com/inthreat/taxii-server/internal/taxii"
	keyusage "github.com/inthreat/taxii-server/internal/usage"
)

func runServe(ctx context.Context, args []string, c *cli) error {
	cfg, _, err := parseFlags("serve", args, c, nil)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, c.stderr)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing to do about a failed flush at exit

	// A SIGHUP reloads the TLS certificate; caught even without TLS, since by default it kills the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	reg := prometheus.NewRegistry()
	var tlsConfig *tls.Config
	if cfg.TLS() {
		certs, err := server.LoadCertificate(cfg.TLSCert, cfg.TLSKey, log.Named("tls"))
		if err != nil {
			return err
		}
		metrics.RegisterTLSExpiry(reg, certs.NotAfter)
		tlsConfig = server.TLSConfig(certs.GetCertificate)
		reload := make(chan struct{}, 1)
		go func() {
			for range hup {
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}()
		go certs.Watch(ctx, cfg.TLSReloadInterval, reload)
	} else {
		go func() {
			for range hup {
				log.Info("SIGHUP: nothing to reload without TLS")
			}
		}()
	}
	proxies, err := cfg.TrustedProxyPrefixes()
	if err != nil {
		return err
	}

	// Listen before touching the database: a taken port is reported before any migration runs.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close() // Serve closes it too; this covers the returns before Serve
	var mln net.Listener
	if cfg.MetricsListen != "" {
		if mln, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return fmt.Errorf("metrics: listen on %s: %w", cfg.MetricsListen, err)
		}
		defer mln.Close()
	}

	st, err := openStore(ctx, cfg, log, cfg.AutoMigrate)
	if err != nil {
		return err
	}
	defer func() { // after Serve has drained the requests
		st.Close()
		log.Info("stopped: database pool closed")
	}()
	if err := bootstrapAdminKey(ctx, st, cfg, c, log); err != nil {
		return err
	}

	m := metrics.New(reg)
	metrics.RegisterBuildInfo(reg, version)
	reg.MustRegister(metrics.NewFeedCollector(st, cfg.FeedStatsTTL, log.Named("metrics")))
	if pg, ok := st.(*postgres.Store); ok {
		reg.MustRegister(metrics.NewPoolCollector(pg.Pool()))
	}
	instrumented := metrics.InstrumentStore(st, m)
	perKey := admit.NewPerKey(cfg.MaxRequestsPerKey) // one cap per key over both APIs
	topts := taxii.OptionsFrom(cfg)
	topts.PerKey = perKey
	api, err := taxii.NewHandler(topts, instrumented, log)
	if err != nil {
		return err
	}
	routes, err := exportRoutes(cfg, instrumented, m, perKey, log)
	if err != nil {
		return err
	}
	tally, err := keyusage.New(instrumented, keyusage.Options{
		MaxEntries: cfg.UsageMaxEntries, FlushEvery: cfg.UsageFlushInterval, Retention: cfg.UsageRetention,
		FinalFlushTimeout: cfg.ShutdownTimeout,
	}, log.Named("usage"))
	if err != nil {
		return err
	}
	// The flusher outlives the listeners: its last flush counts the requests
	// drained at shutdown, and it ends before the store closes.
	flushCtx, stopFlushing := context.WithCancel(context.WithoutCancel(ctx))
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		tally.Run(flushCtx)
	}()
	defer func() {
		stopFlushing()
		<-flushed
	}()
	adminSvc := admin.NewService(instrumented, log.Named("admin"), time.Now, admin.OptionsFrom(cfg))
	adminAPI, err := admin.NewHandler(adminSvc, log, admin.APIOptionsFrom(cfg))
	if err != nil {
		return err
	}
	opts := server.Options{
		TAXII:          api,
		Routes:         routes,
		Admin:          adminAPI,
		Store:          st,
		Log:            log,
		Metrics:        m,
		Usage:          tally,
		TrustedProxies: proxies,
		RateLimit:      cfg.RateLimit,
		RateBurst:      cfg.RateLimitBurst,
	}
	if cfg.MetricsOnMain {
		opts.MetricsHandler = metrics.Handler(reg)
	}
	if opts.Console, err = consoleHandler(ctx, cfg, adminSvc, log); err != nil {
		return err
	}

	listeners := []server.Listener{{Name: "taxii", Listener: ln, Handler: server.New(opts), TLS: tlsConfig, MaxConnections: cfg.MaxConnections}}
	if mln != nil {
		listeners = append(listeners, server.Listener{Name: "metrics", Listener: mln, Handler: server.MetricsHandler(metrics.Handler(reg))})
		log.Info("serving metrics", zap.String("address", mln.Addr().String()))
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	log.Info("serving TAXII 2.1",
		zap.String("address", ln.Addr().String()),
		zap.String("scheme", scheme),
		zap.String("store", cfg.StoreKind()),
		zap.String("api_root", cfg.APIRootPath))
	if c.listening != nil {
		for _, l := range listeners {
			c.listening(l.Name, l.Listener.Addr().String())
		}
	}
	go server.ExpireStatuses(ctx, st, cfg.StatusPurgeEvery, cfg.StatusPurgeBatch, log)
	building := make(chan struct{})
	go func() {
		defer close(building)
		feed.FinishBuilds(ctx, st, time.Minute, log.Named("feeds"))
	}()
	defer func() { <-building }() // before the store closes
	go adminSvc.TrimAuditEvery(ctx, cfg.AuditPurgeEvery)
	pullers, err := sourceRunner(cfg, st, reg, log)
	if err != nil {
		return err
	}
	pulling := make(chan struct{})
	go func() {
		defer close(pulling)
		pullers.Run(ctx)
	}()
	defer func() { <-pulling }() // before the store closes
	return server.Serve(ctx, timeouts(cfg), log, listeners...)
}

// exportRoutes is the feed export API (internal/export) under the parent of the API root.
func exportRoutes(cfg config.Config, st store.Store, m *metrics.Metrics, perKey *admit.PerKey, log *zap.Logger) ([]server.Route, error) {
	o := export.OptionsFrom(cfg)
	o.PerKey, o.Metrics = perKey, m
	rs, err := export.Routes(o, st, log)
	if err != nil {
		return nil, err
	}
	out := make([]server.Route, len(rs))
	for i, r := range rs {
		out[i] = server.Route(r)
	}
	return out, nil
}

// timeouts are the HTTP server's timeouts from the configuration.
func timeouts(c config.Config) server.Timeouts {
	return server.Timeouts{
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		ShutdownTimeout:   c.ShutdownTimeout,
	}
}

// bootstrapAdminKey creates an admin key on a store with no key at all and shows it
// once, so a newcomer is never locked out. Replicas starting together create one.
// With TAXII_ADMIN_KEY_FILE the key goes to that new 0600 file, never to a log stream.
func bootstrapAdminKey(ctx context.Context, st store.Keys, cfg config.Config, c *cli, log *zap.Logger) error {
	plain, k, err := auth.Generate("bootstrap-admin", store.RoleAdmin, nil, time.Now().UTC())
	if err != nil {
		return err
	}
	var f *os.File
	if cfg.AdminKeyFile != "" {
		// Created before the key, exclusively: a key that cannot be written down is never made.
		if f, err = os.OpenFile(cfg.AdminKeyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			if errors.Is(err, os.ErrExist) {
				if has, herr := hasKeys(ctx, st); herr == nil && has {
					return nil // the usual restart: the key was written on the first start
				}
			}
			return fmt.Errorf("TAXII_ADMIN_KEY_FILE: %w", err)
		}
		defer f.Close()
	}
	created, err := st.CreateFirstKey(ctx, k)
	if err != nil || !created {
		if f != nil {
			_ = os.Remove(cfg.AdminKeyFile)
		}
		return err
	}
	if f != nil {
		if _, err := fmt.Fprintln(f, plain); err != nil {
			return fmt.Errorf("TAXII_ADMIN_KEY_FILE: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("TAXII_ADMIN_KEY_FILE: %w", err)
		}
		log.Info("created the first admin API key and wrote it to TAXII_ADMIN_KEY_FILE", zap.String("key_id", k.ID), zap.String("file", cfg.AdminKeyFile))
		return nil
	}
	log.Info("created the first admin API key; it is printed once on standard output", zap.String("key_id", k.ID))
	fmt.Fprintf(c.stdout, "\nFirst start: an admin API key was created. It is shown once; store it now:\n\n    %s\n\n"+
		"Use it as the password of HTTP Basic auth (any username), or as a Bearer token.\n\n", plain)
	return nil
}

// hasKeys reports whether the store holds any key.
func hasKeys(ctx context.Context, st store.Keys) (bool, error) {
	keys, err := st.ListKeys(ctx)
	return len(keys) > 0, err
}

// runHealthcheck asks the local server's /healthz; for container HEALTHCHECKs
// in images without a shell or curl.
func runHealthcheck(ctx context.Context, args []string, c *cli) error {
	cfg, _, err := parseFlags("healthcheck", args, c, nil)
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return fmt.Errorf("healthcheck: listen address %q: %w", cfg.Listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	scheme, client := "http", &http.Client{}
	if cfg.TLS() {
		// The probe asks 127.0.0.1, which the certificate does not name; it checks
		// that the process answers, not who it is, so the certificate is not verified.
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // see above
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %s", resp.Status)
	}
	return nil
}

// sourceRunner pulls the upstream sources due (source add) into st; every
// replica runs one, and the sources' leases share them out.
func sourceRunner(cfg config.Config, st store.Store, reg prometheus.Registerer, log *zap.Logger) (*sources.Runner, error) {
	// Upstream content is validated as strictly as a writer's would be; the
	// validator is compiled at the first pull, not at every start.
	validator := sync.OnceValues(func() (*stix.Validator, error) {
		return stix.NewValidator(stix.Options{Strict: cfg.StrictValidation, Limits: cfg.ObjectLimits()})
	})
	host, _ := os.Hostname()
	var nonce [4]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	m := metrics.NewSources(reg)
	return &sources.Runner{
		Store:     st,
		Validator: validator,
		Owner:     fmt.Sprintf("%s/%d/%x", host, os.Getpid(), nonce),
		Every:     cfg.SourcePollInterval,
		Lease:     cfg.SourceLease,
		Timeout:   cfg.SourceHTTPTimeout,
		Log:       log.Named("sources"),
		Observe: func(r sources.Report) {
			m.Run(r.Source, r.Stats.Pulled, r.Err != nil, r.Duration, r.Lag)
		},
	}, nil
}
