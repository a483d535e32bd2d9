package taxii

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
)

// failingStore is a real store whose listing and scans fail on demand.
type failingStore struct {
	store.Store
	listErr   error
	scanErr   error
	failAfter int // rows streamed before scanErr; -1: fail in begin
}

func (f *failingStore) ListFeeds(ctx context.Context) ([]store.Feed, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	return f.Store.ListFeeds(ctx)
}

func (f *failingStore) ScanObjects(ctx context.Context, q store.Query, begin func(store.Page) error, each func(store.Row) error) error {
	if f.scanErr == nil {
		return f.Store.ScanObjects(ctx, q, begin, each)
	}
	n := 0
	return f.Store.ScanObjects(ctx, q, func(p store.Page) error {
		if f.failAfter < 0 {
			return f.scanErr
		}
		return begin(p)
	}, func(r store.Row) error {
		if n == f.failAfter {
			return f.scanErr
		}
		n++
		return each(r)
	})
}

func TestUnknownErrorsAreGeneric500s(t *testing.T) {
	fs := &failingStore{Store: storetest.Stores(t)[0].New(t)}
	b := setup(t, fs, Options{})
	fs.listErr = errors.New("database on fire: password=hunter2")
	r := b.get(t, "reader", b.root+"/collections/")
	e := r.taxiiError(t, 500, "error_id")
	if strings.Contains(string(r.body), "fire") || strings.Contains(string(r.body), "hunter2") {
		t.Fatalf("the cause leaks to the client: %s", r.body)
	}
	logged := b.logs.FilterField(zapString("error_id", e.ErrorID)).All()
	if len(logged) != 1 || logged[0].Level.String() != "error" || !strings.Contains(logged[0].ContextMap()["error"].(string), "database on fire") {
		t.Fatalf("500 logged as %+v, want one error line with the cause and the error_id", logged)
	}
	for _, field := range []string{"http_status", "method", "path", "key_id", "error_code"} {
		if _, ok := logged[0].ContextMap()[field]; !ok {
			t.Errorf("log line lacks %s", field)
		}
	}
}

func TestScanFailures(t *testing.T) {
	fs := &failingStore{Store: storetest.Stores(t)[0].New(t)}
	b := setup(t, fs, Options{})
	bulkData(t, b)
	objects := b.root + "/collections/" + feedAllID + "/objects/"

	t.Run("before the first byte: a clean 500", func(t *testing.T) {
		fs.scanErr, fs.failAfter = errors.New("snapshot too old"), -1
		defer func() { fs.scanErr = nil }()
		r := b.get(t, "reader", objects)
		r.taxiiError(t, 500, "error_id")
		if r.header.Get("X-TAXII-Date-Added-First") != "" {
			t.Fatal("date headers on an error")
		}
	})
	t.Run("within the buffer: still a clean 500", func(t *testing.T) {
		fs.scanErr, fs.failAfter = errors.New("connection reset"), 3
		defer func() { fs.scanErr = nil }()
		b.get(t, "reader", objects).taxiiError(t, 500, "error_id")
	})
	t.Run("late in a large page: still a clean 500, the page is spooled", func(t *testing.T) {
		fs.scanErr, fs.failAfter = errors.New("connection reset"), 900
		defer func() { fs.scanErr = nil }()
		r := b.get(t, "reader", objects+"?limit=2000")
		r.taxiiError(t, 500, "error_id")
		if r.header.Get("X-TAXII-Date-Added-First") != "" {
			t.Fatal("date headers on an error")
		}
	})
}
