package stix

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const schemasCommit = "3bf9e69dc18dbbe995676c5dde027ead76e2b6fa"

// TestSchemasScript runs scripts/schemas.sh in throw-away checkouts: the
// download path (against a local copy of the pinned archive), idempotence,
// repair of a tampered copy, refusal of content with the wrong digest, and the
// copy from ../shared.
func TestSchemasScript(t *testing.T) {
	for _, tool := range []string{"bash", "git", "tar", "curl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is needed by scripts/schemas.sh: %v", tool, err)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	script := filepath.Join(repoRoot(t), "scripts", "schemas.sh")
	shared := sharedDir(t, "stix2-json-schemas")
	tmp := t.TempDir()

	// newCheckout makes a git checkout holding only the script.
	newCheckout := func(name string) string {
		dir := filepath.Join(tmp, name, "repo")
		if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "scripts", "schemas.sh"), b, 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, dir, nil, "git", "init", "-q")
		return dir
	}
	// archive builds a tarball shaped like GitHub's, optionally with an extra file.
	archive := func(name string, extra bool) string {
		root := filepath.Join(tmp, name)
		top := filepath.Join(root, "cti-stix2-json-schemas-"+schemasCommit)
		run(t, tmp, nil, "mkdir", "-p", top)
		run(t, tmp, nil, "cp", "-R", filepath.Join(shared, "schemas"), filepath.Join(shared, "LICENSE"), top)
		if extra {
			if err := os.WriteFile(filepath.Join(top, "schemas", "common", "extra.json"), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(tmp, name+".tar.gz")
		run(t, root, nil, "tar", "-czf", out, "cti-stix2-json-schemas-"+schemasCommit)
		return "file://" + out
	}

	repo := newCheckout("download")
	env := []string{"STIX_SCHEMAS_URL=" + archive("good", false)}
	dest := filepath.Join(repo, "internal", "stix", "schemas")
	if out := run(t, repo, env, "scripts/schemas.sh", dest); !strings.Contains(out, "downloading") || !strings.Contains(out, "ready") {
		t.Errorf("first run said %q", out)
	}
	for _, f := range []string{"LICENSE", "common/core.json", "sdos/indicator.json", "observables/ipv6-addr.json"} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if out := run(t, repo, env, "scripts/schemas.sh", dest); out != "" {
		t.Errorf("second run is not a no-op: %q", out)
	}
	if err := os.WriteFile(filepath.Join(dest, "common", "core.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, repo, env, "scripts/schemas.sh", dest)
	if b, _ := os.ReadFile(filepath.Join(dest, "common", "core.json")); len(b) < 100 {
		t.Error("a tampered copy was not replaced")
	}

	bad := filepath.Join(repo, "bad")
	cmd := exec.Command(filepath.Join(repo, "scripts", "schemas.sh"), bad)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "STIX_SCHEMAS_URL="+archive("bad", true))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "digest mismatch") {
		t.Errorf("wrong digest: err %v, output %q", err, out)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("unverified schemas were installed")
	}

	// With ../shared beside the checkout, the script copies it.
	repo = newCheckout("copy")
	if err := os.Symlink(filepath.Dir(shared), filepath.Join(tmp, "copy", "shared")); err != nil {
		t.Fatal(err)
	}
	dest = filepath.Join(repo, "schemas")
	if out := run(t, repo, []string{"STIX_SCHEMAS_URL=file:///nonexistent"}, "scripts/schemas.sh", dest); !strings.Contains(out, "copying") {
		t.Errorf("copy run said %q", out)
	}
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}
