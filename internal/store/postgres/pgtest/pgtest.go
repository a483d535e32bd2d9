// Package pgtest gives tests a migrated Postgres store in a schema of their own.
// Tests commit (concurrency tests must), so isolation is by schema, dropped at cleanup.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres"
)

// DefaultURL is the database the developers' machines and CI provide.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns the test database URL: TAXII_TEST_DATABASE_URL, else DefaultURL.
func URL() string {
	if u := os.Getenv("TAXII_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewSchema creates an empty schema and returns a database URL whose connections use it.
// The schema is dropped when the test ends. A database that does not answer fails the test.
func NewSchema(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	base := URL()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: Postgres does not answer at %s (set TAXII_TEST_DATABASE_URL): %v", base, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	qs := u.Query()
	qs.Set("search_path", schema)
	u.RawQuery = qs.Encode()
	return u.String()
}

// New returns a migrated store in a fresh schema, closed and dropped at cleanup.
func New(t testing.TB) *postgres.Store {
	t.Helper()
	return NewWithLimits(t, store.Limits{})
}

// NewWithLimits is New with lim.
func NewWithLimits(t testing.TB, lim store.Limits) *postgres.Store {
	t.Helper()
	dsn := NewSchema(t)
	s, err := postgres.OpenWithLimits(context.Background(), dsn, zaptest.NewLogger(t), lim)
	if err != nil {
		t.Fatalf("pgtest: open: %v", err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("pgtest: migrate: %v", err)
	}
	return s
}
