package postgres

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/migrations"
)

// migrationLock is the advisory lock key that serialises migrators across processes.
const migrationLock = 7_341_201_001

// migrationSteps are Go steps run in a migration's transaction after its SQL.
var migrationSteps = map[int]func(context.Context, pgx.Tx) error{
	observablesMigration: backfillObservables,
}

func loadMigrations() ([]store.Migration, error) {
	ms, err := store.LoadMigrations(migrations.Postgres, "postgres")
	if err != nil {
		return nil, err
	}
	return ms, store.CheckSteps(ms, slices.Collect(maps.Keys(migrationSteps))...)
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies pending migrations, each in its own transaction, under an
// advisory lock so that replicas starting together do not race.
func (s *Store) Migrate(ctx context.Context) error {
	ms, applied, err := s.migrationState(ctx)
	if err != nil {
		return err
	}
	if err := store.CheckNotNewer(applied, ms); err != nil {
		return err
	}
	for _, m := range ms {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// A migration may rewrite a large table and wait for readers' locks:
			// the server's statement and lock timeouts are not for it.
			if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
				return err
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil {
				return err
			}
			if done {
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if step := migrationSteps[m.Version]; step != nil {
				if err := step(ctx, tx); err != nil {
					return fmt.Errorf("migration %s: back-fill: %w", m.Name, err)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return interpretError(err)
		}
		s.log.Debug("migration checked", zap.String("migration", m.Name))
	}
	return nil
}

// CheckSchema returns store.ErrSchemaMismatch unless the applied migrations are
// exactly the embedded ones.
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, applied, err := s.migrationState(ctx)
	if err != nil {
		return err
	}
	return store.CheckApplied(applied, ms)
}

// migrationState is the embedded migrations and the versions the database records.
func (s *Store) migrationState(ctx context.Context) ([]store.Migration, []int, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, nil, err
	}
	applied, err := s.appliedMigrations(ctx)
	return ms, applied, err
}

// appliedMigrations lists the recorded versions; none when the table does not exist yet.
func (s *Store) appliedMigrations(ctx context.Context) ([]int, error) {
	var exists bool
	if err := s.lookups.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, interpretError(err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := s.lookups.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, interpretError(err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	return applied, interpretError(err)
}
