package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/migrations"
)

// migration is one numbered file of migrations/sqlite.
type migration struct {
	version int
	name    string
	sql     string
}

const createSchemaMigrations = `
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
)`

// loadMigrations reads the embedded files NNNN_name.sql in version order.
func loadMigrations() ([]migration, error) {
	return parseMigrations(migrations.Sqlite, "sqlite")
}

func parseMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		body, err := fs.ReadFile(fsys, dir+"/"+name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	return ms, nil
}

// Migrate applies every pending migration, each in its own write transaction
// together with its schema_migrations row. BEGIN IMMEDIATE serialises concurrent
// runs, even from other processes, and the second one finds the row and skips.
// It returns store.ErrSchemaMismatch, applying nothing, when the database already
// has a migration this binary does not know.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	applied, err := s.appliedMigrations(ctx, s.w)
	if err != nil {
		return err
	}
	if unknown := unknownVersions(applied, ms); len(unknown) > 0 {
		return fmt.Errorf("%w: the database has migrations %v that this binary does not know", store.ErrSchemaMismatch, unknown)
	}
	for _, m := range ms {
		var done bool
		err := s.writeTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, createSchemaMigrations); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx,
				`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.version).Scan(&done); err != nil {
				return err
			}
			if done {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if m.version == observablesMigration {
				if err := backfillObservables(ctx, tx); err != nil {
					return fmt.Errorf("back-fill: %w", err)
				}
			}
			_, err := tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, s.now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, interpretError(err))
		}
		if !done {
			s.log.Info("applied migration", zap.String("migration", m.name))
		}
	}
	return nil
}

// CheckSchema returns store.ErrSchemaMismatch unless the applied migrations are
// exactly the embedded ones.
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	applied, err := s.appliedMigrations(ctx, s.lookups)
	if err != nil {
		return err
	}
	if unknown := unknownVersions(applied, ms); len(unknown) > 0 {
		return fmt.Errorf("%w: the database has migrations %v that this binary does not know (run a newer binary)",
			store.ErrSchemaMismatch, unknown)
	}
	var missing []int
	for _, m := range ms {
		if !slices.Contains(applied, m.version) {
			missing = append(missing, m.version)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: migrations %v are not applied (run migrate)", store.ErrSchemaMismatch, missing)
	}
	return nil
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

func unknownVersions(applied []int, known []migration) []int {
	var unknown []int
	for _, v := range applied {
		if !slices.ContainsFunc(known, func(m migration) bool { return m.version == v }) {
			unknown = append(unknown, v)
		}
	}
	return unknown
}
