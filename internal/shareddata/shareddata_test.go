package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirFindsShared(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("root %s: %v", root, err)
	}
	if os.Getenv("CI") != "" {
		if d := Dir(t, "testdata"); filepath.Base(d) != "testdata" {
			t.Fatalf("Dir = %s", d)
		}
	}
}

// fakeTB records how Dir ends a test whose data is missing.
type fakeTB struct {
	testing.TB
	failed, skipped bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }
func (f *fakeTB) Skipf(string, ...any)  { f.skipped = true }

func TestDirMissing(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		f := &fakeTB{TB: t}
		Dir(f, "no-such-folder-here")
		if f.failed != (ci != "") || f.skipped != (ci == "") {
			t.Errorf("CI=%q: failed %v, skipped %v", ci, f.failed, f.skipped)
		}
	}
}
