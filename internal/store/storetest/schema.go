package storetest

import (
	"errors"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

// SchemaRecord changes the record of applied migrations of a store's database
// behind its back, as another binary would: Record adds a version, Forget removes one.
type SchemaRecord struct {
	Record func(t *testing.T, version int)
	Forget func(t *testing.T, version int)
}

// ExerciseSchemaChecks asserts, on any store, that Migrate and CheckSchema hold to
// one rule (store.CheckNotNewer, store.CheckApplied): a newer database is refused
// before anything is migrated, and CheckSchema accepts exactly the known migrations.
// newStore returns a new, migrated store and the way to change its record.
func ExerciseSchemaChecks(t *testing.T, newStore func(t *testing.T) (store.Store, SchemaRecord)) {
	t.Helper()
	const future = 9999

	t.Run("NewerDatabaseIsRefused", func(t *testing.T) {
		s, rec := newStore(t)
		ctx := t.Context()
		rec.Record(t, future)
		if err := s.CheckSchema(ctx); !errors.Is(err, store.ErrSchemaMismatch) {
			t.Fatalf("CheckSchema: %v, want ErrSchemaMismatch", err)
		}
		if err := s.Migrate(ctx); !errors.Is(err, store.ErrSchemaMismatch) {
			t.Fatalf("Migrate: %v, want ErrSchemaMismatch", err)
		}
	})

	// A newer database is refused before migrating: Migrate applies nothing, not
	// even a migration this binary knows and the database lacks.
	t.Run("MigrateAppliesNothingToANewerDatabase", func(t *testing.T) {
		s, rec := newStore(t)
		ctx := t.Context()
		rec.Forget(t, 1)
		rec.Record(t, future)
		if err := s.Migrate(ctx); !errors.Is(err, store.ErrSchemaMismatch) {
			t.Fatalf("Migrate: %v, want ErrSchemaMismatch", err)
		}
		rec.Forget(t, future)
		if err := s.CheckSchema(ctx); !errors.Is(err, store.ErrSchemaMismatch) {
			t.Fatalf("CheckSchema: %v; Migrate recorded migration 1 again on a newer database", err)
		}
	})

	t.Run("MissingMigrationIsRefused", func(t *testing.T) {
		s, rec := newStore(t)
		ctx := t.Context()
		rec.Forget(t, 1)
		if err := s.CheckSchema(ctx); !errors.Is(err, store.ErrSchemaMismatch) {
			t.Fatalf("CheckSchema: %v, want ErrSchemaMismatch", err)
		}
	})
}
