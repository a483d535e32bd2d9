// Package postgres is the production store: the store contract on PostgreSQL via pgx.
// Stateless server processes share one database, so every guarantee lives in SQL.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/store"
)

// Store implements store.Store on a pgx pool.
type Store struct {
	pool *pgxpool.Pool
	// lookups serves keys, feeds, settings and Ping with connections of their
	// own (store.LookupConns), so authentication never waits behind page reads.
	lookups *pgxpool.Pool
	log     *zap.Logger
	step    int           // versions one step of a feed build examines (store.Limits.BuildStep)
	atOnce  time.Duration // steps the change of a feed takes in its own transaction (store.Limits.BuildAtOnce)
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://...) without time limits. It does not migrate.
func Open(ctx context.Context, url string, log *zap.Logger) (*Store, error) {
	return OpenWithLimits(ctx, url, log, store.Limits{})
}

// OpenWithLimits connects with lim applied to every connection as the
// statement_timeout and lock_timeout settings. The pool takes the size the URL
// gives (pool_max_conns); store.LookupConns more are opened for lookups.
func OpenWithLimits(ctx context.Context, url string, log *zap.Logger, lim store.Limits) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database url: %w", err)
	}
	if lim.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(lim.StatementTimeout.Milliseconds(), 10)
	}
	if lim.LockTimeout > 0 {
		// Readers take no lock a writer holds (MVCC), so in practice this bounds writers.
		cfg.ConnConfig.RuntimeParams["lock_timeout"] = strconv.FormatInt(lim.LockTimeout.Milliseconds(), 10)
	}
	lcfg := cfg.Copy()
	lcfg.MaxConns, lcfg.MinConns = store.LookupConns, 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	lookups, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return &Store{pool: pool, lookups: lookups, log: log, step: lim.BuildStep(), atOnce: lim.BuildAtOnce()}, nil
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
// It looks inside a store.DatabaseError, which keeps the driver's error as its Cause.
func RootCause(err error) error {
	var dbErr *store.DatabaseError
	if errors.As(err, &dbErr) {
		err = dbErr.Cause()
	}
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
func (s *Store) Close() {
	s.pool.Close()
	s.lookups.Close()
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return interpretError(s.lookups.Ping(ctx))
}

// interpretError is the one place that turns driver errors into store errors.
// Like the sqlite store's, it maps what callers act on to store sentinels and
// returns the rest as a store.DatabaseError: nothing above the store sees a
// pgx type, yet the driver's message and error stay there for the log. A
// malformed id never reaches SQL (ids are parsed in Go), so a failed cast is a
// bug and is not hidden as a 404.
func interpretError(err error) error {
	switch {
	case err == nil:
		return nil
	case store.IsSentinel(err):
		return err // already the store's own, from inside a transaction
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return store.Conflict(err)
		case "55P03": // lock_not_available: lock_timeout
			return fmt.Errorf("%w: %s", store.ErrBusy, pgErr.Message)
		case "57014": // query_canceled: statement_timeout, or the client's cancel
			if strings.Contains(pgErr.Message, "statement timeout") {
				return fmt.Errorf("%w: %s", store.ErrBusy, pgErr.Message)
			}
		}
	}
	return store.DriverError("postgres", err)
}
