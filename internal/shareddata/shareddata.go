// Package shareddata finds, for tests, the data kept in ../shared beside the
// repository (STIX corpora, pattern cases, the pinned schemas). It is the one
// place that decides what a test does when that folder is missing.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the absolute path of ../shared/<rel...> beside the repository
// root (the folder holding go.mod above the test's working directory). When
// it is missing the test fails if the environment sets CI (.ci/run does, and
// CI must test everything), and is skipped otherwise.
func Dir(t testing.TB, rel ...string) string {
	t.Helper()
	root, err := RepoRoot()
	if err == nil {
		dir := filepath.Join(append([]string{root, "..", "shared"}, rel...)...)
		if _, err = os.Stat(dir); err == nil {
			return dir
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("shared test data missing (../shared beside the repository): %v", err)
		return ""
	}
	t.Skipf("shared test data not available (../shared beside the repository): %v", err)
	return ""
}

// RepoRoot is the nearest folder at or above the working directory that
// holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
