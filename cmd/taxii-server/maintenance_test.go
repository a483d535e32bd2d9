package main

import (
	"context"
	"os"
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

// TestAdminKeyFile: with TAXII_ADMIN_KEY_FILE the first admin key goes to a new 0600
// file and nowhere else; later starts leave it alone; a stale file on an empty store
// is refused rather than overwritten.
func TestAdminKeyFile(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	file := filepath.Join(t.TempDir(), "admin-key")
	b.env["TAXII_ADMIN_KEY_FILE"] = file
	base, out := b.serve()
	if strings.Contains(out.String(), "tk_") {
		t.Fatalf("the key was printed:\n%s", out)
	}
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	key, _ := os.ReadFile(file)
	if resp, _ := get(t, base+"/taxii2/", strings.TrimSpace(string(key))); resp.StatusCode != 200 {
		t.Fatalf("the written key does not work: %d", resp.StatusCode)
	}
	b.serve() // a restart: the file exists, the store has its key
	if again, _ := os.ReadFile(file); string(again) != string(key) {
		t.Fatal("a restart rewrote the key file")
	}

	fresh := binaries(t)["sqlite"](t)
	fresh.env["TAXII_ADMIN_KEY_FILE"] = file
	if _, _, err := fresh.run(context.Background(), "", "serve", "--listen", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "TAXII_ADMIN_KEY_FILE") {
		t.Fatalf("a stale key file on an empty store: %v", err)
	}
}
