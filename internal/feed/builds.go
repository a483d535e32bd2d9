package feed

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/store"
)

// FinishBuilds completes, at once and then every interval until ctx ends, the
// builds of feeds' entries that were cut short: a feed created or refiltered by
// a request whose client went away, or by a process that stopped, is served
// again within an interval instead of answering 503 until someone edits it.
func FinishBuilds(ctx context.Context, st store.Feeds, every time.Duration, log *zap.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := st.FinishFeedBuilds(ctx); err != nil && ctx.Err() == nil {
			log.Warn("finish feed builds", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
