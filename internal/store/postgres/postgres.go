// Package postgres is the production store: the store contract on PostgreSQL via pgx.
// Stateless server processes share one database, so every guarantee lives in SQL.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/store"
)

// Store implements store.Store on a pgx pool.
type Store struct {
	pool *pgxpool.Pool
	log  *zap.Logger
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://...). It does not migrate.
func Open(ctx context.Context, url string, log *zap.Logger) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return &Store{pool: pool, log: log}, nil
}

// Pool exposes the pool for operations metrics and benchmarks.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close releases every connection.
func (s *Store) Close() { s.pool.Close() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return interpretError(s.pool.Ping(ctx))
}

// interpretError is the one place that turns driver errors into store errors.
// Like the sqlite store's, it maps what callers act on to store sentinels and
// returns the rest as a store.DatabaseError: nothing above the store sees a
// pgx type, yet the driver's message and error stay there for the log. A malformed id never reaches SQL (ids
// are parsed in Go), so a failed cast is a bug and is not hidden as a 404.
func interpretError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrSchemaMismatch):
		return err // already the store's own, from inside a transaction
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		return store.Conflict(err)
	}
	return store.DriverError("postgres", err)
}
