package postgres_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
	"github.com/inthreat/taxii-server/internal/store/storetest"
	"github.com/inthreat/taxii-server/migrations"
)

// TestStore runs the conformance suite every store must pass against Postgres.
func TestStore(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) store.Store { return pgtest.New(t) })
}

func TestFeedBuilds(t *testing.T) {
	storetest.ExerciseFeedBuilds(t, func(t *testing.T, lim store.Limits) store.Store { return pgtest.NewWithLimits(t, lim) })
}

func TestSchemaChecks(t *testing.T) {
	storetest.ExerciseSchemaChecks(t, func(t *testing.T) (store.Store, storetest.SchemaRecord) {
		s := pgtest.New(t)
		exec := func(t *testing.T, sql string, version int) {
			t.Helper()
			if _, err := s.Pool().Exec(context.Background(), sql, version); err != nil {
				t.Fatal(err)
			}
		}
		return s, storetest.SchemaRecord{
			Record: func(t *testing.T, v int) {
				exec(t, `INSERT INTO schema_migrations (version, name) VALUES ($1, 'from another binary')`, v)
			},
			Forget: func(t *testing.T, v int) { exec(t, `DELETE FROM schema_migrations WHERE version = $1`, v) },
		}
	})
}

func TestAnalyzeRecordsStatistics(t *testing.T) {
	s := pgtest.New(t)
	ctx := context.Background()
	var before *time.Time
	q := `SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'objects' AND schemaname = current_schema()`
	if err := s.Pool().QueryRow(ctx, q).Scan(&before); err != nil || before != nil {
		t.Fatalf("before: %v %v", before, err)
	}
	if err := s.Analyze(ctx); err != nil {
		t.Fatal(err)
	}
	var after *time.Time
	if err := s.Pool().QueryRow(ctx, q).Scan(&after); err != nil || after == nil {
		t.Fatalf("ANALYZE left no trace: %v %v", after, err)
	}
}

func TestObservablesBackfill(t *testing.T) {
	s := pgtest.New(t)
	storetest.ExerciseObservablesBackfill(t, s, func(ctx context.Context) error {
		_, err := s.Pool().Exec(ctx, `DROP TABLE observables; DELETE FROM schema_migrations WHERE version = 3`)
		return err
	})
}

// TestMigrationRecordsSources: rows stored before migration 2 belong to the
// source "import", and keys get their name as their source.
func TestMigrationRecordsSources(t *testing.T) {
	dsn := pgtest.NewSchema(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	first, err := migrations.Postgres.ReadFile("postgres/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(first),
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
		`INSERT INTO schema_migrations (version, name) VALUES (1, '0001_init.sql')`,
		`INSERT INTO objects (date_added, id, type, spec_version, created, version_key, is_latest, is_first, raw)
		 VALUES (1, '` + storetest.SeedObjectID + `', 'indicator', '2.1', '2021-01-01T00:00:00.000Z', '2021-01-01T00:00:00.000000000Z', true, true, '{}')`,
		`INSERT INTO api_keys (id, name, role, hash, created_at) VALUES ('` + storetest.SeedKeyID + `', '` + storetest.SeedKeyName + `', 'read-write', '\x00', now())`,
	} {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s, err := postgres.Open(t.Context(), dsn, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	storetest.CheckSourcesMigrated(t, s)
}

// TestMigrationBackfillsFilterFields undoes migrations 0005, 0010 and 0012 on a store with
// rows, then applies it again: the rows get their filter columns from raw.
func TestMigrationBackfillsFilterFields(t *testing.T) {
	s := pgtest.New(t)
	storetest.ExerciseBackfill(t, s, func(t *testing.T) {
		_, err := s.Pool().Exec(t.Context(), `DROP TABLE feed_members; DROP TABLE marking_tlp;
			ALTER TABLE objects DROP COLUMN tlp, DROP COLUMN creators, DROP COLUMN confidence, DROP COLUMN labels,
				DROP COLUMN revoked, DROP COLUMN valid_until;
			ALTER TABLE feeds DROP COLUMN exclude_types, DROP COLUMN tlp, DROP COLUMN sources, DROP COLUMN created_by,
				DROP COLUMN min_confidence, DROP COLUMN labels, DROP COLUMN exclude_revoked, DROP COLUMN exclude_expired,
				DROP COLUMN with_context, DROP COLUMN indexed;
			DELETE FROM schema_migrations WHERE version IN (5, 10, 12)`)
		if err != nil {
			t.Fatal(err)
		}
	})
}

// A refused connection reaches the command line as its network cause, once,
// although Ping returns it as a store.DatabaseError that does not unwrap.
func TestRootCauseOfRefusedConnection(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/test?connect_timeout=2", zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Ping(ctx)
	var dbErr *store.DatabaseError
	if !errors.As(err, &dbErr) {
		t.Fatalf("Ping: %v, want a store.DatabaseError", err)
	}
	cause := postgres.RootCause(err)
	var op *net.OpError
	if !errors.As(cause, &op) || cause != error(op) {
		t.Fatalf("RootCause = %T %v, want the *net.OpError itself", cause, cause)
	}
	if n := strings.Count(cause.Error(), "connection refused"); n != 1 {
		t.Fatalf("RootCause names the refusal %d times: %v", n, cause)
	}
}

// TestLegacyDigests: versions stored before migration 9 have no digest.
func TestLegacyDigests(t *testing.T) {
	s := pgtest.New(t)
	storetest.ExerciseLegacyDigests(t, s, func(t *testing.T) {
		if _, err := s.Pool().Exec(t.Context(), `UPDATE objects SET digest = NULL`); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(tb testing.TB) store.Store { return pgtest.New(tb) })
}
