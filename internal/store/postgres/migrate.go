package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/migrations"
)

// migrationLock is the advisory lock key that serialises migrators across processes.
const migrationLock = 7_341_201_001

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrations.Postgres, "postgres")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %q is not named NNNN_name.sql", e.Name())
		}
		body, err := fs.ReadFile(migrations.Postgres, "postgres/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// Migrate applies pending migrations, each in its own transaction, under an
// advisory lock so that replicas starting together do not race.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
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
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&done); err != nil {
				return err
			}
			if done {
				return nil
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if m.version == observablesMigration {
				if err := backfillObservables(ctx, tx); err != nil {
					return fmt.Errorf("migration %s: back-fill: %w", m.name, err)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return interpretError(err)
		}
		s.log.Debug("migration checked", zap.String("migration", m.name))
	}
	return nil
}

// CheckSchema refuses a database whose applied migrations differ from the embedded ones.
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	var exists bool
	if err := s.lookups.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return interpretError(err)
	}
	if !exists {
		return fmt.Errorf("%w: database has no schema; run migrate", store.ErrSchemaMismatch)
	}
	rows, err := s.lookups.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return interpretError(err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return interpretError(err)
	}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.version] = true
	}
	for _, v := range applied {
		if !known[v] {
			return fmt.Errorf("%w: database has migration %d, newer than this binary", store.ErrSchemaMismatch, v)
		}
	}
	if len(applied) != len(ms) {
		return fmt.Errorf("%w: database has %d of %d migrations; run migrate", store.ErrSchemaMismatch, len(applied), len(ms))
	}
	return nil
}
