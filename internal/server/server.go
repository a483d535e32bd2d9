// Package server runs the HTTP server: the TAXII API plus the operations endpoints,
// with the timeouts and graceful shutdown an internet-facing service needs.
package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/store"
)

// Pinger is what readiness needs from the store.
type Pinger interface {
	Ping(ctx context.Context) error
	CheckSchema(ctx context.Context) error
}

// Handler mounts /healthz and /readyz beside the TAXII handler.
func Handler(taxii http.Handler, st Pinger) http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := st.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unreachable\n"))
			return
		}
		if err := st.CheckSchema(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database schema not migrated\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	r.Mount("/", taxii)
	return r
}

// Serve runs h on ln until ctx ends, then stops accepting, lets in-flight requests
// finish for up to cfg.ShutdownTimeout, and returns.
func Serve(ctx context.Context, cfg config.Config, ln net.Listener, h http.Handler, log *zap.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", zap.Duration("timeout", cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		_ = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// ExpireStatuses deletes expired status resources every interval until ctx ends.
// Every replica may run it: the delete is idempotent.
func ExpireStatuses(ctx context.Context, st store.Statuses, every time.Duration, log *zap.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n, err := st.DeleteExpiredStatuses(ctx, now); err != nil && ctx.Err() == nil {
				log.Warn("expire statuses", zap.Error(err))
			} else if n > 0 {
				log.Info("expired statuses", zap.Int("count", n))
			}
		}
	}
}
