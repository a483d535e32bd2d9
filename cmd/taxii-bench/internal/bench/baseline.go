package bench

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the driver of the embedded store, for its baseline
)

// baselineResult is one read of every stored object straight from the database.
type baselineResult struct {
	rows    int64
	bytes   int64
	elapsed time.Duration
	dbCPU   time.Duration // of the backend that ran it; 0 when unknown
}

// copyBaseline is the physical limit of a pull on Postgres: COPY of the objects'
// raw JSON in date_added order, binary format (text would hex-encode bytea and
// double the bytes), to a sink that only counts.
const copyBaseline = `COPY (SELECT raw FROM objects ORDER BY date_added) TO STDOUT (FORMAT binary)`

func postgresBaseline(ctx context.Context, dbURL string) (baselineResult, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return baselineResult{}, err
	}
	defer conn.Close(ctx)
	// The backend's CPU is read while it lives: it ends with the connection.
	pid := int(conn.PgConn().PID())
	cpu0, cpuErr := procCPU(pid)
	var w countingWriter
	start := time.Now()
	tag, err := conn.PgConn().CopyTo(ctx, &w, copyBaseline)
	if err != nil {
		return baselineResult{}, fmt.Errorf("COPY: %w", err)
	}
	res := baselineResult{rows: tag.RowsAffected(), bytes: w.n, elapsed: time.Since(start)}
	if cpu1, err := procCPU(pid); err == nil && cpuErr == nil {
		res.dbCPU = cpu1 - cpu0
	}
	return res, nil
}

// sqliteBaseline is the same for the embedded store: one plain scan of raw in
// date_added order through database/sql.
func sqliteBaseline(ctx context.Context, path string) (baselineResult, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		return baselineResult{}, err
	}
	defer db.Close()
	start := time.Now()
	rows, err := db.QueryContext(ctx, `SELECT raw FROM objects ORDER BY date_added`)
	if err != nil {
		return baselineResult{}, err
	}
	defer rows.Close()
	var res baselineResult
	var raw sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&raw); err != nil {
			return res, err
		}
		res.rows++
		res.bytes += int64(len(raw))
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	res.elapsed = time.Since(start)
	return res, nil
}

// postgresVersion is the server_version of the database at dbURL.
func postgresVersion(ctx context.Context, dbURL string) (string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var v string
	err = conn.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v, err
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
