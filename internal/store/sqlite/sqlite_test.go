package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/sqlite"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
	"github.com/inthreat/taxii-server/internal/store/storetest"
	"github.com/inthreat/taxii-server/migrations"
)

func TestStore(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) store.Store { return sqlitetest.New(t) })
}

func TestFeedBuilds(t *testing.T) {
	storetest.ExerciseFeedBuilds(t, func(t *testing.T, lim store.Limits) store.Store { return sqlitetest.NewWithLimits(t, lim) })
}

func indicator(n int) store.Object {
	id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n)
	return store.Object{ID: id, Type: "indicator", SpecVersion: "2.1", Created: "2021-01-01T00:00:00Z",
		Raw: []byte(`{"type":"indicator","id":"` + id + `","pattern":"[ipv4-addr:value = '10.0.0.1']"}`)}
}

// allObjects returns the ids of every stored version, in date_added order.
func allObjects(t *testing.T, s store.Store) ([]string, []int64) {
	t.Helper()
	var ids []string
	var added []int64
	q := store.Query{Versions: store.VersionMatch{All: true}, Limit: 10_000}
	for {
		var page store.Page
		err := s.ScanObjects(t.Context(), q, func(p store.Page) error { page = p; return nil },
			func(r store.Row) error { ids = append(ids, r.ID); added = append(added, r.DateAdded); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !page.More {
			return ids, added
		}
		q.After = page.Last
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taxii.db")
	ctx := t.Context()

	s, err := sqlite.Open(ctx, path, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := s.AddObjects(ctx, []store.Object{indicator(1), indicator(2)})
	if err != nil {
		t.Fatal(err)
	}
	feed := store.Feed{ID: "6d1a2f9e-3f2c-4c55-9d0b-7d1cb1e6d001", Title: "Feed", Alias: "intel"}
	if err := s.CreateFeed(ctx, feed); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.CreateFirstKey(ctx, store.APIKey{ID: "0b0c4c1e-9c3d-4f8e-a7b2-1b9a8c6d5001", Name: "admin", Role: store.RoleAdmin, Hash: []byte("h")}); !ok || err != nil {
		t.Fatalf("CreateFirstKey = %v, %v", ok, err)
	}
	secret, err := s.CursorSecret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = sqlitetest.Open(t, path)
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after reopen: %v", err)
	}
	ids, added := allObjects(t, s)
	if len(ids) != 2 || added[0] != out[0].DateAdded || added[1] != out[1].DateAdded {
		t.Fatalf("after reopen: %v at %v, want the 2 objects at %d, %d", ids, added, out[0].DateAdded, out[1].DateAdded)
	}
	if got, err := s.GetFeed(ctx, "intel"); err != nil || got.ID != feed.ID {
		t.Fatalf("feed after reopen: %+v, %v", got, err)
	}
	if ok, err := s.CreateFirstKey(ctx, store.APIKey{ID: "0b0c4c1e-9c3d-4f8e-a7b2-1b9a8c6d5002", Name: "again", Role: store.RoleAdmin, Hash: []byte("h")}); ok || err != nil {
		t.Fatalf("CreateFirstKey after reopen = %v, %v; want false: the first key is still there", ok, err)
	}
	again, err := s.CursorSecret(ctx)
	if err != nil || !bytes.Equal(again, secret) {
		t.Fatalf("cursor secret after reopen = %x, %v; want %x", again, err, secret)
	}
	// The clock survived too: new objects come after the old ones.
	next, err := s.AddObjects(ctx, []store.Object{indicator(3)})
	if err != nil || next[0].DateAdded <= out[1].DateAdded {
		t.Fatalf("add after reopen = %+v, %v; want after %d", next, err, out[1].DateAdded)
	}
}

// childEnv makes the test binary, run again, act as a writer that the parent kills.
const childEnv = "TAXII_SQLITE_KILL_CHILD_DB"

// TestKilledWriterLosesNothingAcknowledged runs a writer in a child process that
// prints "ack N" after each AddObjects returns, kills it with SIGKILL in the middle
// of its work, and checks that every acknowledged object is in the reopened file.
func TestKilledWriterLosesNothingAcknowledged(t *testing.T) {
	if path := os.Getenv(childEnv); path != "" {
		killChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "taxii.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestKilledWriterLosesNothingAcknowledged$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		n, ok := strings.CutPrefix(lines.Text(), "ack ")
		if !ok {
			continue
		}
		if acked, err = strconv.Atoi(n); err != nil {
			t.Fatal(err)
		}
		// Enough batches acknowledged; the child is writing the next one right now.
		if acked >= 2_000 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Acknowledgements written before the kill still count.
	for lines.Scan() {
		if n, ok := strings.CutPrefix(lines.Text(), "ack "); ok {
			if acked, err = strconv.Atoi(n); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	if acked < 0 {
		t.Fatal("the child acknowledged nothing")
	}

	s := sqlitetest.Open(t, path)
	if err := s.CheckSchema(t.Context()); err != nil {
		t.Fatal(err)
	}
	ids, added := allObjects(t, s)
	stored := make(map[string]bool, len(ids))
	for _, id := range ids {
		stored[id] = true
	}
	for n := 0; n <= acked; n++ {
		if !stored[indicator(n).ID] {
			t.Fatalf("object %d was acknowledged (up to %d) but is not in the reopened store (%d stored)", n, acked, len(ids))
		}
	}
	t.Logf("acknowledged %d objects, found %d after SIGKILL", acked+1, len(ids))
	// The store is usable and its clock intact.
	next, err := s.AddObjects(t.Context(), []store.Object{indicator(1_000_000)})
	if err != nil || next[0].DateAdded <= added[len(added)-1] {
		t.Fatalf("add after recovery = %+v, %v", next, err)
	}
}

// killChild writes batches of 10 objects forever, acknowledging each on stdout.
func killChild(path string) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, zap.NewNop())
	if err == nil {
		err = s.Migrate(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	for n := 0; ; n += 10 {
		batch := make([]store.Object, 10)
		for i := range batch {
			batch[i] = indicator(n + i)
		}
		if _, err := s.AddObjects(ctx, batch); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		fmt.Printf("ack %d\n", n+9)
	}
}

func TestOpenDoesNotMigrate(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "new", "folder", "taxii.db"), zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("Open (creating the folder): %v", err)
	}
	defer s.Close()
	if err := s.CheckSchema(ctx); !errors.Is(err, store.ErrSchemaMismatch) {
		t.Fatalf("CheckSchema on a new file: %v, want ErrSchemaMismatch", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}
}

func TestSchemaChecks(t *testing.T) {
	storetest.ExerciseSchemaChecks(t, func(t *testing.T) (store.Store, storetest.SchemaRecord) {
		path := filepath.Join(t.TempDir(), "taxii.db")
		s := sqlitetest.Open(t, path)
		exec := func(t *testing.T, query string, version int) {
			t.Helper()
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(t.Context(), query, version); err != nil {
				t.Fatal(err)
			}
		}
		return s, storetest.SchemaRecord{
			Record: func(t *testing.T, v int) {
				exec(t, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from another binary', 0)`, v)
			},
			Forget: func(t *testing.T, v int) { exec(t, `DELETE FROM schema_migrations WHERE version = ?`, v) },
		}
	})
}

func TestMigrateFromTwoProcessesAtOnce(t *testing.T) {
	// Two Stores on one file are two connections pools, as two processes would be.
	path := filepath.Join(t.TempDir(), "taxii.db")
	ctx := t.Context()
	var stores []*sqlite.Store
	for range 3 {
		s, err := sqlite.Open(ctx, path, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	errs := make(chan error, len(stores))
	for _, s := range stores {
		go func() { errs <- s.Migrate(ctx) }()
	}
	for range stores {
		if err := <-errs; err != nil {
			t.Errorf("Migrate: %v", err)
		}
	}
	for _, s := range stores {
		if err := s.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", "data/taxii.db?mode=ro"} {
		if s, err := sqlite.Open(t.Context(), p, zaptest.NewLogger(t)); err == nil {
			s.Close()
			t.Errorf("Open(%q) accepted", p)
		}
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(tb testing.TB) store.Store { return sqlitetest.New(tb) })
}

func TestObservablesBackfill(t *testing.T) {
	s := sqlitetest.New(t)
	storetest.ExerciseObservablesBackfill(t, s, func(ctx context.Context) error {
		return sqlite.ExecForTest(ctx, s, `DROP TABLE observables; DELETE FROM schema_migrations WHERE version = 3`)
	})
}

// TestMigrationRecordsSources: rows stored before migration 2 belong to the
// source "import", and keys get their name as their source.
func TestMigrationRecordsSources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taxii.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	first, err := migrations.Sqlite.ReadFile("sqlite/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(first),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, '0001_init.sql', 0)`,
		`INSERT INTO objects (date_added, id, type, spec_version, created, version_key, is_latest, is_first, raw)
		 VALUES (1, '` + storetest.SeedObjectID + `', 'indicator', '2.1', '2021-01-01T00:00:00.000Z', '2021-01-01T00:00:00.000000000Z', 1, 1, '{}')`,
		`INSERT INTO api_keys (id, name, role, hash, created_at) VALUES ('` + storetest.SeedKeyID + `', '` + storetest.SeedKeyName + `', 'read-write', x'00', 0)`,
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := sqlitetest.Open(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	storetest.CheckSourcesMigrated(t, s)
}

// TestMigrationBackfillsFilterFields undoes migrations 0005 and 0012 on a store with
// rows (through a second connection to the file), then applies it again: the
// rows get their filter columns from raw.
func TestMigrationBackfillsFilterFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taxii.db")
	s := sqlitetest.Open(t, path)
	storetest.ExerciseBackfill(t, s, func(t *testing.T) {
		db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		stmts := []string{`DROP TABLE feed_members`, `DROP TABLE marking_tlp`, `DELETE FROM schema_migrations WHERE version IN (5, 12)`}
		for _, c := range []string{"tlp", "creators", "confidence", "labels", "revoked", "valid_until"} {
			stmts = append(stmts, "ALTER TABLE objects DROP COLUMN "+c)
		}
		for _, c := range []string{"exclude_types", "tlp", "sources", "created_by", "min_confidence", "labels",
			"exclude_revoked", "exclude_expired", "with_context", "indexed"} {
			stmts = append(stmts, "ALTER TABLE feeds DROP COLUMN "+c)
		}
		for _, q := range stmts {
			if _, err := db.ExecContext(t.Context(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	})
}

// TestLegacyDigests: versions stored before migration 9 have no digest.
func TestLegacyDigests(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taxii.db")
	s := sqlitetest.Open(t, path)
	storetest.ExerciseLegacyDigests(t, s, func(t *testing.T) {
		db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(t.Context(), `UPDATE objects SET digest = NULL`); err != nil {
			t.Fatal(err)
		}
	})
}
