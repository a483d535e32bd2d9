// Package sqlitetest gives tests a fresh, migrated SQLite store in a temporary
// folder. It is the embedded counterpart of postgres/pgtest.
package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/sqlite"
)

// New opens and migrates a store on a new file under t.TempDir(), closed at cleanup.
func New(t testing.TB) *sqlite.Store {
	t.Helper()
	return Open(t, filepath.Join(t.TempDir(), "taxii.db"))
}

// NewWithLimits is New with lim.
func NewWithLimits(t testing.TB, lim store.Limits) *sqlite.Store {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "taxii.db"), lim)
}

// Open opens and migrates the store at path, closed at cleanup; for tests that reopen a file.
func Open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	return open(t, path, store.Limits{})
}

func open(t testing.TB, path string, lim store.Limits) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.OpenWithLimits(ctx, path, zaptest.NewLogger(t), lim)
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate sqlite store: %v", err)
	}
	return s
}
