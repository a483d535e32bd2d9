package sqlite_test

import (
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
	"github.com/inthreat/taxii-server/internal/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) store.Store { return sqlitetest.New(t) })
}
