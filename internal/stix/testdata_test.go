package stix

import (
	"path/filepath"
	"testing"

	"github.com/inthreat/taxii-server/internal/shareddata"
)

// sharedDir returns ../shared/<rel> beside the repository (see shareddata.Dir
// for what happens when it is missing).
func sharedDir(t testing.TB, rel string) string {
	t.Helper()
	return shareddata.Dir(t, filepath.FromSlash(rel))
}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := shareddata.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}
