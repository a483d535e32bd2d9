package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/migrations"
)

const createSchemaMigrations = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)`

// migrationSteps are Go steps run in a migration's transaction after its SQL.
var migrationSteps = map[int]func(context.Context, *sql.Tx) error{
	observablesMigration: backfillObservables,
}

func loadMigrations() ([]store.Migration, error) {
	ms, err := store.LoadMigrations(migrations.Sqlite, "sqlite")
	if err != nil {
		return nil, err
	}
	return ms, store.CheckSteps(ms, slices.Collect(maps.Keys(migrationSteps))...)
}

// Migrate applies every pending migration, each in its own write transaction
// together with its schema_migrations row. BEGIN IMMEDIATE serialises concurrent
// runs, even from other processes, and the second one finds the row and skips.
// It returns store.ErrSchemaMismatch, applying nothing, when the database already
// has a migration this binary does not know.
func (s *Store) Migrate(ctx context.Context) error {
	ms, applied, err := s.migrationState(ctx, s.w)
	if err != nil {
		return err
	}
	if err := store.CheckNotNewer(applied, ms); err != nil {
		return err
	}
	for _, m := range ms {
		var done bool
		err := s.writeTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, createSchemaMigrations); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx,
				`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.Version).Scan(&done); err != nil {
				return err
			}
			if done {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			if step := migrationSteps[m.Version]; step != nil {
				if err := step(ctx, tx); err != nil {
					return fmt.Errorf("back-fill: %w", err)
				}
			}
			_, err := tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, s.now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, interpretError(err))
		}
		if !done {
			s.log.Info("applied migration", zap.String("migration", m.Name))
		}
	}
	return nil
}

// CheckSchema returns store.ErrSchemaMismatch unless the applied migrations are
// exactly the embedded ones.
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, applied, err := s.migrationState(ctx, s.lookups)
	if err != nil {
		return err
	}
	return store.CheckApplied(applied, ms)
}

// migrationState is the embedded migrations and the versions the database records.
func (s *Store) migrationState(ctx context.Context, db *sql.DB) ([]store.Migration, []int, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, nil, err
	}
	applied, err := s.appliedMigrations(ctx, db)
	return ms, applied, err
}

// appliedMigrations lists the recorded versions; none when the table does not exist yet.
func (s *Store) appliedMigrations(ctx context.Context, db *sql.DB) ([]int, error) {
	var exists bool
	if err := db.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')`).Scan(&exists); err != nil {
		return nil, interpretError(err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, interpretError(err)
		}
		vs = append(vs, v)
	}
	return vs, interpretError(rows.Err())
}
