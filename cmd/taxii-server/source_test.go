package main

import (
	"strings"
	"testing"
)

// TestImportAndKeysRecordTheirSource: import records --source (default
// "import") and, being the CLI, may add versions of any source's objects; a key
// records --source (default its name); source list counts objects per source.
func TestImportAndKeysRecordTheirSource(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			if got := b.must(indicatorBundle(3), "import", "-"); got != "imported 3, unchanged 0, rejected 0\n" {
				t.Fatalf("import: %q", got)
			}
			if got := b.must(indicatorBundle(5), "import", "--source", "vendor", "-"); got != "imported 2, unchanged 3, rejected 0\n" {
				t.Fatalf("import --source vendor: %q", got)
			}
			// The first imported indicator, modified later: the CLI is not confined.
			newer := strings.Replace(indicatorBundle(1), `"modified":"2026-01-01T00:00:00.000Z"`, `"modified":"2026-06-01T00:00:00.000Z"`, 1)
			if got := b.must(newer, "import", "--source", "vendor", "-"); got != "imported 1, unchanged 0, rejected 0\n" {
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
