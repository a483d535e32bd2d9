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
const busyTimeoutMS = 10000

// Store is the SQLite implementation of store.Store.
type Store struct {
	// w has exactly one connection and opens transactions with BEGIN IMMEDIATE,
	// so writers queue in Go instead of failing with SQLITE_BUSY, and the clock
	// read-and-bump in AddObjects is serialised.
	w *sql.DB
	// r is the reader pool: WAL lets every reader keep its snapshot while the writer works.
	r   *sql.DB
	log *zap.Logger
	// now is the wall clock; tests move it to show date_added does not follow it backwards.
	now func() time.Time
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it and its folder if needed) the database file at path.
// It does not migrate: call Migrate, then CheckSchema.
func Open(ctx context.Context, path string, log *zap.Logger) (*Store, error) {
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

	r, err := sql.Open("sqlite", path+"?_pragma=busy_timeout("+strconv.Itoa(busyTimeoutMS)+")"+
		"&_pragma=foreign_keys(1)&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open readers: %w", err)
	}
	// A reader is held while a page streams to a client, slow ones included.
	n := max(16, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, interpretError(err))
	}
	return &Store{w: w, r: r, log: log, now: time.Now}, nil
}

// Close closes both pools.
func (s *Store) Close() {
	if err := s.r.Close(); err != nil {
		s.log.Warn("close sqlite readers", zap.Error(err))
	}
	if err := s.w.Close(); err != nil {
		s.log.Warn("close sqlite writer", zap.Error(err))
	}
}

// Ping reports whether both pools answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return interpretError(err)
	}
	return interpretError(s.r.PingContext(ctx))
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
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrSchemaMismatch):
		return err // already the store's own, from inside a transaction
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return store.Conflict(err)
		}
	}
	return store.DriverError("sqlite", err)
}
