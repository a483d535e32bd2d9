package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stalledInput serves its objects, then blocks until ctx ends, as a pipe from a
// slow producer would.
type stalledInput struct {
	ctx  context.Context
	data *strings.Reader
}

func (s *stalledInput) Read(p []byte) (int, error) {
	if s.data.Len() > 0 {
		return s.data.Read(p)
	}
	<-s.ctx.Done()
	return 0, s.ctx.Err()
}

func lines(from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		b.WriteString(indicator(7, i))
		b.WriteByte('\n')
	}
	return b.String()
}

// An interrupted import says what it had committed, and progress lines come
// although stderr is no terminal.
func TestImportInterruptedSaysWhatWasCommitted(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr, stdout := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"import", "-"}, &cli{stdin: &stalledInput{ctx, strings.NewReader(lines(0, importBatch+500))},
			stdout: stdout, stderr: stderr, getenv: b.getenv, environ: b.environ, progressEvery: time.Nanosecond})
	}()
	for end := time.Now().Add(time.Minute); !strings.Contains(stderr.String(), "import: 2000 objects"); {
		if time.Now().After(end) {
			t.Fatalf("no progress line for the first batch:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("import returned %v", err)
	}
	if got := stdout.String(); !strings.Contains(got, "interrupted: imported 2000, unchanged 0, conflicting 0, rejected 0 (committed before the interrupt)") {
		t.Fatalf("stdout %q", got)
	}
	// Those 2000 are really stored: importing them again changes nothing.
	out := b.must(lines(0, importBatch), "import", "-")
	if out != "imported 0, unchanged 2000, conflicting 0, rejected 0\n" {
		t.Fatalf("re-import: %q", out)
	}
}

// Files: a summary each, percent of a file whose size is known, and one line
// for a whole STIX 2.0 file instead of one per object.
func TestImportPerFileSummaries(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	dir := t.TempDir()
	newer := filepath.Join(dir, "new.jsonl")
	old := filepath.Join(dir, "old.jsonl")
	if err := os.WriteFile(newer, []byte(lines(100, 2*importBatch+10)), 0o600); err != nil {
		t.Fatal(err)
	}
	v20 := strings.ReplaceAll(lines(10_000, 3), `"spec_version":"2.1",`, "")
	if err := os.WriteFile(old, []byte(v20), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	err := run(context.Background(), []string{"import", newer, old},
		&cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: b.getenv, environ: b.environ, progressEvery: time.Nanosecond})
	if !errors.Is(err, errReported) || stdout.String() != "imported 4010, unchanged 0, conflicting 0, rejected 3\n" {
		t.Fatalf("err %v stdout %q stderr %s", err, stdout.String(), stderr.String())
	}
	e := stderr.String()
	for _, want := range []string{
		newer + ": imported 4010, unchanged 0, conflicting 0, rejected 0\n",
		old + ": imported 0, unchanged 0, conflicting 0, rejected 3\n",
		"rejected " + old + ": 3 objects are STIX 2.0",
		"% of the file",
	} {
		if !strings.Contains(e, want) {
			t.Errorf("stderr lacks %q:\n%s", want, e)
		}
	}
	if n := strings.Count(e, "STIX 2.0"); n != 1 {
		t.Errorf("%d lines about STIX 2.0, want 1:\n%s", n, e)
	}
}

// Conflicts (issue 16): on both stores, a version imported again with the same
// content (another layout) is unchanged and with other content conflicting;
// conflicts are listed by position up to TAXII_IMPORT_LIST_MAX, then counted,
// the first content stays, and they do not fail the run.
func TestImportConflicts(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			b.env["TAXII_IMPORT_LIST_MAX"] = "2"
			b.must(lines(0, 5), "import", "-")
			var again strings.Builder
			for i := range 5 {
				obj := indicator(7, i)
				if i == 2 {
					obj = strings.ReplaceAll(obj, `","`, `", "`) // the same JSON value
				} else {
					obj = strings.Replace(obj, `.example.com'`, `.example.org'`, 1)
				}
				again.WriteString(obj + "\n")
			}
			stdout, stderr, err := b.run(context.Background(), again.String(), "import", "-")
			if err != nil || stdout != "imported 0, unchanged 1, conflicting 4, rejected 0\n" {
				t.Fatalf("err %v stdout %q stderr %s", err, stdout, stderr)
			}
			id := func(n int) string { return fmt.Sprintf("indicator--%08d-0007-4000-8000-000000000000", n) }
			want := "conflicting <stdin>: object 1 " + id(0) + ": version 2026-01-01T00:00:00.000Z is already stored with other content; the first version is kept\n" +
				"conflicting <stdin>: object 2 " + id(1) + ": version 2026-01-01T00:00:00.000Z is already stored with other content; the first version is kept\n" +
				"<stdin>: 2 more rejected or conflicting objects not listed\n"
			var listed strings.Builder // without progress lines, should the machine be slow
			for _, l := range strings.SplitAfter(stderr, "\n") {
				if !strings.HasPrefix(l, "import: ") {
					listed.WriteString(l)
				}
			}
			if stderr = listed.String(); stderr != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
			}
			// The first content is what is stored: importing it again changes nothing.
			if out := b.must(lines(0, 5), "import", "-"); out != "imported 0, unchanged 5, conflicting 0, rejected 0\n" {
				t.Errorf("the first content again: %q", out)
			}
			// --json: the same counts, and each file's listed lines.
			var sum struct {
				Imported, Unchanged, Conflicting, Rejected int
				Files                                      []struct {
					File        string
					Conflicting int
					Lines       []string
				}
			}
			if err := json.Unmarshal([]byte(b.must(again.String(), "import", "--json", "-")), &sum); err != nil {
				t.Fatal(err)
			}
			if sum.Unchanged != 1 || sum.Conflicting != 4 || len(sum.Files) != 1 || sum.Files[0].File != "<stdin>" ||
				sum.Files[0].Conflicting != 4 || len(sum.Files[0].Lines) != 3 || sum.Files[0].Lines[2] != "<stdin>: 2 more rejected or conflicting objects not listed" {
				t.Errorf("--json: %+v", sum)
			}
		})
	}
}

// An admin API import through the real binary outlasts TAXII_READ_TIMEOUT,
// which is for ordinary requests: a body sent over longer is still read whole.
func TestAdminImportOutlastsReadTimeout(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	b.env["TAXII_READ_TIMEOUT"] = "1s"
	key := strings.TrimSpace(b.must("", "key", "create", "--name", "loader", "--role", "admin"))
	base, _ := b.serve()
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, lines(0, 10))
		time.Sleep(1500 * time.Millisecond)
		_, _ = io.WriteString(pw, lines(10, 10))
		pw.Close()
	}()
	req, err := http.NewRequest("POST", base+"/admin/api/v1/imports", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var job struct{ State, Summary, Error string }
	if err := json.NewDecoder(resp.Body).Decode(&job); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted || job.State != "done" || job.Summary != "imported 20, unchanged 0, conflicting 0, rejected 0" {
		t.Fatalf("%s %+v", resp.Status, job)
	}
}
