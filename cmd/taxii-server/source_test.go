package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImportAndKeysRecordTheirSource: import records --source (default
// "import") and, being the CLI, may add versions of any source's objects; a key
// records --source (default its name); source list counts objects per source.
func TestImportAndKeysRecordTheirSource(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			if got := b.must(indicatorBundle(3), "import", "-"); got != "imported 3, unchanged 0, conflicting 0, rejected 0\n" {
				t.Fatalf("import: %q", got)
			}
			if got := b.must(indicatorBundle(5), "import", "--source", "vendor", "-"); got != "imported 2, unchanged 3, conflicting 0, rejected 0\n" {
				t.Fatalf("import --source vendor: %q", got)
			}
			// The first imported indicator, modified later: the CLI is not confined.
			newer := strings.Replace(indicatorBundle(1), `"modified":"2026-01-01T00:00:00.000Z"`, `"modified":"2026-06-01T00:00:00.000Z"`, 1)
			if got := b.must(newer, "import", "--source", "vendor", "-"); got != "imported 1, unchanged 0, conflicting 0, rejected 0\n" {
				t.Fatalf("import of a newer version of another source's object: %q", got)
			}
			b.must("", "key", "create", "--name", "writer", "--role", "read-write", "--source", "feed-x")
			b.must("", "key", "create", "--name", "reader", "--role", "read-only")
			if list := b.must("", "key", "list"); !strings.Contains(list, " feed-x ") || !strings.Contains(list, "SOURCE") {
				t.Fatalf("key list does not show the source:\n%s", list)
			}
			got := b.must("", "source", "list")
			want := [][]string{{"SOURCE", "OBJECTS"}, {"feed-x", "0"}, {"import", "3"}, {"reader", "0"}, {"vendor", "3"}}
			lines := strings.Split(strings.TrimSpace(got), "\n")
			if len(lines) != len(want) {
				t.Fatalf("source list:\n%s", got)
			}
			for i, l := range lines {
				if f := strings.Fields(l); strings.Join(f, " ") != strings.Join(want[i], " ") {
					t.Fatalf("source list line %d = %q, want %q:\n%s", i, l, want[i], got)
				}
			}
		})
	}
}

// TestSourceCommands: source add stores an upstream (secrets from files, the CA
// as contents, a warning when TLS is not verified), refuses a duplicate name
// and bad flags; source list shows state and counts but never a secret;
// pause, resume, run-now and remove change what list shows.
func TestSourceCommands(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			dir := t.TempDir()
			write := func(name, content string) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			pw, tok := write("pw", "hunter2-secret\n"), write("tok", "tok-secret-123")
			const url = "https://ti.example.com/api/collections/2f6c4d9e-0000-4000-8000-000000000001/"

			out, errOut, err := b.run(context.Background(), "", "source", "add", "--name", "vendor", "--url", url,
				"--user", "me", "--password-file", pw, "--types", "indicator,malware", "--interval", "30m",
				"--added-after", "2026-01-01T00:00:00Z", "--insecure-skip-verify")
			if err != nil || !strings.Contains(out, `added source "vendor"`) || !strings.Contains(errOut, "WARNING") {
				t.Fatalf("source add: %v\nstdout %s\nstderr %s", err, out, errOut)
			}
			_, errOut, err = b.run(context.Background(), "", "source", "add", "--name", "v20", "--url", url+"x/", "--taxii", "2.0", "--token-file", tok)
			if err != nil || strings.Contains(errOut, "WARNING") {
				t.Fatalf("source add v20: %v %s", err, errOut)
			}
			st := b.openStore()
			u, err := st.GetUpstream(t.Context(), "vendor")
			if err != nil || u.Password != "hunter2-secret" || u.User != "me" || !u.Insecure || u.Interval != 30*time.Minute ||
				u.AddedAfter != "2026-01-01T00:00:00Z" || strings.Join(u.Types, ",") != "indicator,malware" {
				t.Fatalf("stored %+v, %v", u, err)
			}
			if u, _ := st.GetUpstream(t.Context(), "v20"); u.Token != "tok-secret-123" || u.TAXIIVersion != "2.0" {
				t.Fatalf("stored v20 %+v", u)
			}

			for _, args := range [][]string{
				{"source", "add", "--name", "vendor", "--url", url}, // duplicate
				{"source", "add", "--name", "x", "--url", "ftp://nope/"},
				{"source", "add", "--name", "x", "--url", url, "--taxii", "1.1"},
				{"source", "add", "--name", "x", "--url", url, "--interval", "10ms"},
				{"source", "add", "--name", "x", "--url", url, "--added-after", "yesterday"},
				{"source", "add", "--name", "x", "--url", url, "--user", "me"}, // no password file
				{"source", "add", "--name", "x", "--url", url, "--ca", write("bad.pem", "not a cert")},
				{"source", "pause", "nope"},
			} {
				if _, _, err := b.run(context.Background(), "", args...); err == nil {
					t.Fatalf("%v: no error", args)
				}
			}

			list := b.must("", "source", "list")
			for _, secret := range []string{"hunter2-secret", "tok-secret-123"} {
				if strings.Contains(list, secret) {
					t.Fatalf("source list prints a secret:\n%s", list)
				}
			}
			state := func(name string) string {
				for _, l := range strings.Split(b.must("", "source", "list"), "\n") {
					if f := strings.Fields(l); len(f) > 1 && f[0] == name {
						return f[1]
					}
				}
				t.Fatalf("source list has no %s", name)
				return ""
			}
			if s := state("vendor"); s != "due" {
				t.Fatalf("new source is %s, want due:\n%s", s, list)
			}
			if !strings.Contains(list, "SOURCE") || !strings.Contains(list, "0/0/0/0/0/0") {
				t.Fatalf("source list:\n%s", list)
			}
			b.must("", "source", "pause", "vendor")
			if s := state("vendor"); s != "paused" {
				t.Fatalf("paused source is %s", s)
			}
			b.must("", "source", "resume", "vendor")
			if s := state("vendor"); s != "due" {
				t.Fatalf("resumed source is %s", s)
			}
			b.must("", "source", "run-now", "v20")
			if u, _ := st.GetUpstream(t.Context(), "v20"); !u.RunNow {
				t.Fatal("run-now did not mark the source")
			}
			b.must("", "source", "remove", "vendor")
			if strings.Contains(b.must("", "source", "list"), "vendor") {
				t.Fatal("removed source still listed")
			}
		})
	}
}
