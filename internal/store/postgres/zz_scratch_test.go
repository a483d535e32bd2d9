package postgres

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

func TestZZScratchList(t *testing.T) {
	if os.Getenv("SCRATCH") == "" {
		t.Skip()
	}
	ctx := context.Background()
	s, err := Open(ctx, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&search_path=exports_scratch", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UnixMicro()
	for range 2 {
		start := time.Now()
		st, err := s.ListState(ctx, store.FeedFilter{}, "ipv4", now)
		t.Logf("state %+v %v %v", st, err, time.Since(start))
		for _, batch := range []int{10000, 50000, 100000} {
			start = time.Now()
			n := 0
			for after := ""; ; {
				got, err := s.ListEntries(ctx, store.FeedFilter{}, "ipv4", after, now, batch)
				if err != nil {
					t.Fatal(err)
				}
				n += len(got)
				if len(got) < batch {
					break
				}
				after = got[len(got)-1]
			}
			t.Logf("batch %d: %d entries in %v", batch, n, time.Since(start))
		}
	}
}
