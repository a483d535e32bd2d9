package server

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/obs"
)

// Pinger is what readiness needs from the store.
type Pinger interface {
	Ping(ctx context.Context) error
	CheckSchema(ctx context.Context) error
}

// readyTimeout bounds a readiness check, below the usual probe timeouts.
const readyTimeout = 2 * time.Second

// healthz answers while the process serves HTTP: the liveness probe.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 when the database answers and has the schema this binary knows,
// 503 otherwise: the readiness probe. It asks the database every time, so it fails
// while the database is down and recovers with it, without a restart.
func readyz(st Pinger, log *zap.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := st.Ping(ctx); err != nil {
			log.Warn("not ready: database unreachable", zap.String("request_id", obs.RequestID(r.Context())), zap.Error(err))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unreachable\n"))
			return
		}
		if err := st.CheckSchema(ctx); err != nil {
			log.Warn("not ready: database schema", zap.String("request_id", obs.RequestID(r.Context())), zap.Error(err))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database schema not migrated\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}
}
