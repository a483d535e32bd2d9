package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackupWhileServing: backup copies the embedded store while serve runs; the copy
// opens as a store of its own, holding what was there at the time of the copy.
func TestBackupWhileServing(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	b.serve()
	b.must("", "import", filepath.Join("..", "..", "examples", "indicators.json"))
	b.must("", "feed", "create", "--title", "Before")
	file := filepath.Join(t.TempDir(), "backup.db")
	if _, stderr, err := b.run(context.Background(), "", "backup", file); err != nil || !strings.Contains(stderr, "backed up") {
		t.Fatalf("backup: %v %s", err, stderr)
	}
	b.must("", "feed", "create", "--title", "After")
	if _, _, err := b.run(context.Background(), "", "backup", file); err == nil {
		t.Fatal("backup overwrote an existing file")
	}

	restored := &binary{t: t, env: map[string]string{"TAXII_DATABASE_URL": "sqlite://" + file, "TAXII_AUTO_MIGRATE": "false"}}
	feeds := restored.must("", "feed", "list")
	if !strings.Contains(feeds, "Before") || strings.Contains(feeds, "After") {
		t.Fatalf("feeds in the backup:\n%s", feeds)
	}
	if got := restored.must("", "purge", "--older-than", "100d", "--dry-run"); !strings.HasPrefix(got, "would purge 0 objects") {
		t.Fatalf("backup purge dry run: %q", got)
	}
}

// TestBackupPostgresPointsToPgDump: the Postgres store is not copied by the binary.
func TestBackupPostgresPointsToPgDump(t *testing.T) {
	b := binaries(t)["postgres"](t)
	_, _, err := b.run(context.Background(), "", "backup", filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Fatalf("backup on postgres: %v", err)
	}
}

// TestPurge: the retention command on both stores; --dry-run removes nothing, the
// filters narrow what goes, and a bad age is a usage error.
func TestPurge(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			b.must("", "import", filepath.Join("..", "..", "examples", "indicators.json"))
			b.must("", "feed", "create", "--title", "Identities", "--types", "identity", "--alias", "ids")
			if got := b.must("", "purge", "--older-than", "365d"); !strings.HasPrefix(got, "purged 0 objects") {
				t.Fatalf("nothing is a year old: %q", got)
			}
			time.Sleep(10 * time.Millisecond)
			for _, tc := range []struct {
				args []string
				want string
			}{
				{[]string{"--older-than", "1ms", "--dry-run"}, "would purge 7 objects (7 versions)"},
				{[]string{"--older-than", "1ms", "--revoked"}, "purged 0 objects"},
				{[]string{"--older-than", "1ms", "--expired"}, "purged 0 objects"},
				{[]string{"--older-than", "1ms", "--feed", "ids"}, "purged 1 objects (1 versions)"},
				{[]string{"--older-than", "1ms"}, "purged 6 objects (6 versions)"},
			} {
				if got := b.must("", append([]string{"purge"}, tc.args...)...); !strings.HasPrefix(got, tc.want) {
					t.Errorf("purge %v: %q, want %q", tc.args, got, tc.want)
				}
			}
			for _, bad := range [][]string{{}, {"--older-than", "soon"}, {"--older-than", "-1d"}, {"--older-than", "1d", "--feed", "nope"}} {
				if _, _, err := b.run(context.Background(), "", append([]string{"purge"}, bad...)...); err == nil {
					t.Errorf("purge %v succeeded", bad)
				}
			}
		})
	}
}
