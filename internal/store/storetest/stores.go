package storetest

import (
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
)

// Named is one store implementation for tests that run against every store.
type Named struct {
	Name string
	New  func(t *testing.T) store.Store // a new, empty, migrated store, closed at cleanup
}

// Stores lists every store implementation, for tests (HTTP ones) that must hold on each:
//
//	for _, st := range storetest.Stores(t) {
//		t.Run(st.Name, func(t *testing.T) { s := st.New(t); ... })
//	}
//
// The postgres store needs a database (pgtest.URL); without one its tests fail, they never skip.
func Stores(t *testing.T) []Named {
	t.Helper()
	return []Named{
		{Name: "sqlite", New: func(t *testing.T) store.Store { return sqlitetest.New(t) }},
		{Name: "postgres", New: func(t *testing.T) store.Store { return pgtest.New(t) }},
	}
}
