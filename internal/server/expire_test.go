package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
)

// The purge serve runs deletes expired statuses, a bounded batch per run, until
// none is left, and leaves live ones; on both stores.
func TestExpireStatusesPurgesInBatches(t *testing.T) {
	const feedID = "9a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01"
	for _, named := range storetest.Stores(t) {
		t.Run(named.Name, func(t *testing.T) {
			st := named.New(t)
			ctx := t.Context()
			now := time.Now()
			status := func(n int, expires time.Time) store.Status {
				return store.Status{ID: fmt.Sprintf("2d8f4e6a-1b3c-4d5e-8f70-%012d", n), FeedID: feedID, Status: "complete",
					RequestTimestamp: now.Add(-time.Hour), ExpiresAt: expires}
			}
			const expired = 7
			for n := range expired {
				if err := st.CreateStatus(ctx, status(n, now.Add(-time.Minute))); err != nil {
					t.Fatal(err)
				}
			}
			live := status(99, now.Add(time.Hour))
			if err := st.CreateStatus(ctx, live); err != nil {
				t.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				ExpireStatuses(runCtx, st, 10*time.Millisecond, 2, zaptest.NewLogger(t))
				close(done)
			}()
			defer func() { cancel(); <-done }()

			left := func() int {
				n := 0
				for i := range expired {
					// UpdateStatus finds a status until it is deleted, expired or not.
					if err := st.UpdateStatus(ctx, status(i, now.Add(-time.Minute))); !errors.Is(err, store.ErrNotFound) {
						n++
					}
				}
				return n
			}
			deadline := time.Now().Add(10 * time.Second)
			for left() > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%d expired statuses still stored", left())
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := storetest.GetStatus(ctx, st, live.ID, time.Now()); err != nil {
				t.Fatalf("the live status went: %v", err)
			}
		})
	}
}
