// Package postgres is the production store: the store contract on PostgreSQL via pgx.
// Stateless server processes share one database, so every guarantee lives in SQL.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"

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

// Describe names the database of url as host:port/database, without credentials,
// for error messages.
func Describe(url string) string {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return "(unparsable URL)"
	}
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// RootCause reduces a connection error to its network cause when there is one: pgx
// repeats the dial error once per attempt (TLS, then plain), which reads as two failures.
func RootCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr
	}
	return err
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
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %s", store.ErrConflict, pgErr.ConstraintName)
		case "22P02": // invalid_text_representation, e.g. a malformed uuid
			return store.ErrNotFound
		}
	}
	return fmt.Errorf("postgres: %w", err)
}
