package stix

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sharedDir returns ../shared/<rel> beside the repository. Without it the
// test is skipped locally but fails in CI (CI set), where the data must exist.
func sharedDir(t testing.TB, rel string) string {
	t.Helper()
	root := repoRoot(t)
	dir := filepath.Join(root, "..", "shared", rel)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("shared test data missing in CI: %v", err)
		}
		t.Skipf("shared test data not available: %v", err)
	}
	return dir
}

func repoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err == nil {
		return strings.TrimSpace(string(out))
	}
	// Not a git checkout: internal/stix is two levels below the root.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}
