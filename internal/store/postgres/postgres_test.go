package postgres_test

import (
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
	"github.com/inthreat/taxii-server/internal/store/storetest"
)

// TestStore runs the conformance suite every store must pass against Postgres.
func TestStore(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) store.Store { return pgtest.New(t) })
}
