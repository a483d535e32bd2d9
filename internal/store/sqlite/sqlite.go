// Package sqlite is the embedded store: one SQLite file, pure Go (modernc.org/sqlite),
// so the server runs with nothing to install. It gives the same guarantees as the
// postgres store; storetest.Exercise proves both.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/inthreat/taxii-server/internal/store"
)

// busyTimeoutMS bounds how long a connection waits for a lock another process
// holds (a second server, or a migrate run, on the same file).
const defaultBusyTimeoutMS = 10000

// Store is the SQLite implementation of store.Store.
type Store struct {
	// w has exactly one connection and opens transactions with BEGIN IMMEDIATE,
	// so writers queue in Go instead of failing with SQLITE_BUSY, and the clock
	// read-and-bump in AddObjects is serialised.
	w *sql.DB
	// r is the reader pool: WAL lets every reader keep its snapshot while the writer works.
	r *sql.DB
	// lookups is a reader pool of its own for keys, feeds, settings and Ping
	// (store.LookupConns), so authentication never waits behind page reads.
	lookups *sql.DB
	lim     store.Limits
	log     *zap.Logger
	// now is the wall clock; tests move it to show date_added does not follow it backwards.
	now func() time.Time
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it and its folder if needed) the database file at path,
// without time limits. It does not migrate: call Migrate, then CheckSchema.
func Open(ctx context.Context, path string, log *zap.Logger) (*Store, error) {
	return OpenWithLimits(ctx, path, log, store.Limits{})
}

// OpenWithLimits opens the store with lim: every method runs under a context
// that ends after StatementTimeout (the driver interrupts the statement), and
// LockTimeout is the busy timeout, how long a writer waits for another
// process's lock (default 10 s).
func OpenWithLimits(ctx context.Context, path string, log *zap.Logger, lim store.Limits) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	// The driver reads everything after '?' as parameters.
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: database path %q must not contain '?' or '#'", path)
	}
	if log == nil {
		log = zap.NewNop()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: create data folder: %w", err)
	}

	busyTimeoutMS := defaultBusyTimeoutMS
	if lim.LockTimeout > 0 {
		busyTimeoutMS = max(1, int(lim.LockTimeout.Milliseconds()))
	}
	// synchronous=FULL: a commit is on disk before AddObjects returns, so an
	// acknowledged write survives kill -9 and power loss. A 32 MB page cache keeps
	// a large import batch in memory until its commit.
	w, err := sql.Open("sqlite", path+"?_txlock=immediate"+
		"&_pragma=busy_timeout("+strconv.Itoa(busyTimeoutMS)+")"+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=cache_size(-32000)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connects first, so the file is in WAL mode before any reader opens it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, interpretError(err))
	}

	readers := func(n int) (*sql.DB, error) {
		r, err := sql.Open("sqlite", path+"?_pragma=busy_timeout("+strconv.Itoa(busyTimeoutMS)+")"+
			"&_pragma=foreign_keys(1)&_pragma=query_only(1)")
		if err != nil {
			return nil, fmt.Errorf("sqlite: open readers: %w", err)
		}
		r.SetMaxOpenConns(n)
		r.SetMaxIdleConns(n)
		if err := r.PingContext(ctx); err != nil {
			r.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, interpretError(err))
		}
		return r, nil
	}
	// A reader is held while a page is read into the server's buffer.
	r, err := readers(max(16, 2*runtime.GOMAXPROCS(0)))
	if err != nil {
		w.Close()
		return nil, err
	}
	lookups, err := readers(store.LookupConns)
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	return &Store{w: w, r: r, lookups: lookups, lim: lim, log: log, now: time.Now}, nil
}

// bound gives one store call its statement timeout.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.lim.StatementTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.lim.StatementTimeout)
}

// Close closes both pools.
func (s *Store) Close() {
	if err := s.r.Close(); err != nil {
		s.log.Warn("close sqlite readers", zap.Error(err))
	}
	if err := s.lookups.Close(); err != nil {
		s.log.Warn("close sqlite lookup readers", zap.Error(err))
	}
	if err := s.w.Close(); err != nil {
		s.log.Warn("close sqlite writer", zap.Error(err))
	}
}

// Ping reports whether the database file answers, on a lookup connection: the
// writer and the readers may all be busy with requests, which is not a failure.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return interpretError(s.lookups.PingContext(ctx))
}

// writeTx runs fn in one write transaction (BEGIN IMMEDIATE), committing when fn
// returns nil. Errors are returned as fn and the driver gave them.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// interpretError is the one place where driver errors become store errors.
// Like the postgres store's, it maps what callers act on to store sentinels and
// returns the rest as a store.DatabaseError: nothing above the store sees a
// driver type, yet the driver's message and error stay there for the log.
func interpretError(err error) error {
	switch {
	case err == nil:
		return nil
	case store.IsSentinel(err):
		return err // already the store's own, from inside a transaction
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, context.DeadlineExceeded):
		// The statement timeout (bound); a caller's own deadline reads the same.
		return fmt.Errorf("%w: %w", store.ErrBusy, err)
	case errors.Is(err, context.Canceled):
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w: %s", store.ErrBusy, err.Error())
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return store.Conflict(err)
		}
	}
	return store.DriverError("sqlite", err)
}
