package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/ingest"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// batchRecorder records the batches of each AddObjectBatches call, and fails
// the call when the store asks for batch failAt (0: never).
type batchRecorder struct {
	store.Store
	batchBytes []int // bytes of raw JSON of each batch
	failAt     int
}

func (b *batchRecorder) AddObjectBatches(ctx context.Context, next func() ([]store.Object, error)) ([]store.AddOutcome, error) {
	b.batchBytes = nil
	return b.Store.AddObjectBatches(ctx, func() ([]store.Object, error) {
		if len(b.batchBytes)+1 == b.failAt {
			return nil, errors.New("the batch after the limit")
		}
		objs, err := next()
		if len(objs) > 0 {
			n := 0
			for _, o := range objs {
				n += len(o.Raw)
			}
			b.batchBytes = append(b.batchBytes, n)
		}
		return objs, err
	})
}

// TestAddObjectsHoldsOneBatchAtATime: a request of 12 MB reaches the store in
// batches of about ingest.BatchBytes, never whole, so that the memory a request
// costs does not grow with its body; and its batches are one transaction: a
// failure at the third stores nothing of the first two.
func TestAddObjectsHoldsOneBatchAtATime(t *testing.T) {
	ctx := context.Background()
	rec := &batchRecorder{Store: sqlitetest.New(t)}
	feed := store.Feed{ID: feedA, Title: "A", Writable: true, CreatedAt: time.Now().UTC()}
	if err := rec.CreateFeed(ctx, feed); err != nil {
		t.Fatal(err)
	}
	plain, key, err := auth.Generate("writer", store.RoleReadWrite, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.CreateKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	opts := taxiiOptions()
	api, err := taxii.NewHandler(opts, rec, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{TAXII: api, Store: okPinger{}, Log: zap.NewNop()}))
	t.Cleanup(srv.Close)

	const n = 12_000
	var sb strings.Builder
	sb.WriteString(`{"objects":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"type":"indicator","spec_version":"2.1","id":"indicator--%08d-0000-4000-8000-000000000000",`+
			`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","description":"%s",`+
			`"pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`,
			i, strings.Repeat("x", 800), i%250)
	}
	sb.WriteString(`]}`)
	body := sb.String()
	post := func() *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+apiRoot+"/collections/"+feedA+"/objects/", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+plain)
		req.Header.Set("Content-Type", taxii.MediaTypeTAXII)
		req.Header.Set("Accept", taxii.MediaTypeTAXII)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	stored := func() int {
		t.Helper()
		count := 0
		err := rec.ScanObjects(ctx, store.Query{Limit: 2 * n}, func(store.Page) error { return nil },
			func(store.Row) error { count++; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return count
	}
	before := stored() // nothing yet

	rec.failAt = 3
	if resp := post(); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("a store failure at the third batch: %s, want 500", resp.Status)
	}
	if len(rec.batchBytes) != 2 {
		t.Fatalf("%d batches before the failure, want 2", len(rec.batchBytes))
	}
	if got := stored(); got != before {
		t.Fatalf("%d objects stored by a request that failed, want none", got-before)
	}

	rec.failAt = 0
	if resp := post(); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST of %d MB: %s", len(body)>>20, resp.Status)
	}
	if got := stored(); got != before+n {
		t.Fatalf("%d objects stored, want %d", got-before, n)
	}
	total := 0
	for _, b := range rec.batchBytes {
		if b > ingest.BatchBytes+opts.ObjectLimits.MaxObjectSize {
			t.Errorf("a batch of %d bytes: over ingest.BatchBytes (%d) and one object", b, ingest.BatchBytes)
		}
		total += b
	}
	if len(rec.batchBytes) < 3 || total < len(body)*9/10 {
		t.Fatalf("batches of %v bytes for a body of %d: want the body in batches", rec.batchBytes, len(body))
	}
}
