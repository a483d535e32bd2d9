package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	validIdentity   = `{"type":"identity","spec_version":"2.1","id":"identity--8c6af861-7b20-41ef-9b59-6344fd872a8f","created":"2016-08-08T15:50:10.983Z","modified":"2016-08-08T15:50:10.983Z","name":"Franistan Intelligence","identity_class":"organization"}`
	customIdentity  = `{"type":"identity","spec_version":"2.1","id":"identity--8c6af861-7b20-41ef-9b59-6344fd872a8f","created":"2016-08-08T15:50:10.983Z","modified":"2016-08-08T15:50:10.983Z","name":"F","foo":"bar"}`
	backInTime      = `{"type":"identity","spec_version":"2.1","id":"identity--8c6af861-7b20-41ef-9b59-6344fd872a8e","created":"2016-08-08T15:50:10.983Z","modified":"2015-08-08T15:50:10.983Z","name":"F"}`
	badPattern      = `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[file:name = 'x'","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"}`
	stix20Indicator = `{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","labels":["x"],"pattern":"[file:name = 'x']","valid_from":"2016-01-01T00:00:00Z"}`
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func validate(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := validateFiles(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.json", `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[`+validIdentity+`,`+customIdentity+`]}`)
	mixed := writeFile(t, dir, "mixed.jsonl", validIdentity+"\n"+backInTime+"\n{\"type\": oops}\n"+badPattern+"\n"+stix20Indicator+"\n")
	broken := writeFile(t, dir, "broken.json", "{\n  \"type\": \"bundle\",\n  \"objects\": [\n    "+validIdentity+",\n    {\"type\" \"x\"}\n  ]\n}\n")

	t.Run("all valid", func(t *testing.T) {
		out, _, err := runValidateOut(t, good)
		if err != nil || out != "valid 2, invalid 0\n" {
			t.Fatalf("err %v, output:\n%s", err, out)
		}
	})

	t.Run("strict", func(t *testing.T) {
		out, _, err := runValidateOut(t, "--strict", good)
		want := good + ": object 2: identity--8c6af861-7b20-41ef-9b59-6344fd872a8f: /foo: property foo is not defined by STIX 2.1 for identity objects; custom properties need the x_ prefix (strict mode)\nvalid 1, invalid 1\n"
		if !errors.Is(err, errReported) || out != want {
			t.Fatalf("err %v, output:\n%s\nwant:\n%s", err, out, want)
		}
	})

	t.Run("one line per invalid object", func(t *testing.T) {
		out, _, err := runValidateOut(t, mixed, good, broken, filepath.Join(dir, "missing.json"))
		if !errors.Is(err, errReported) {
			t.Fatalf("err = %v, want the reported error (exit status 1)", err)
		}
		want := []string{
			mixed + ": object 2: identity--8c6af861-7b20-41ef-9b59-6344fd872a8e: /modified: modified is earlier than created (2015-08-08T15:50:10.983Z < 2016-08-08T15:50:10.983Z)",
			mixed + ": object 3: -: -: invalid JSON: unexpected 'o', expected a JSON value (line 3)",
			mixed + ": object 4: indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: /pattern: expected ']' but the pattern ended at offset 16",
			mixed + ": object 5: indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: /spec_version: spec_version is missing, so this is STIX 2.0 content, which is not accepted; this server stores STIX 2.1 (SDOs and SROs carry spec_version \"2.1\")",
			broken + ": line 5 (offset ",
			filepath.Join(dir, "missing.json") + ": open ",
			"valid 4, invalid 6",
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out)
		}
		for i := range want {
			if !strings.HasPrefix(lines[i], want[i]) {
				t.Errorf("line %d:\n got %s\nwant %s", i, lines[i], want[i])
			}
		}
	})

	t.Run("stdin", func(t *testing.T) {
		out, _, err := validate(t, "["+validIdentity+","+backInTime+"]", "-")
		if !errors.Is(err, errReported) || !strings.HasPrefix(out, "<stdin>: object 2: identity--") || !strings.HasSuffix(out, "valid 1, invalid 1\n") {
			t.Fatalf("err %v, output:\n%s", err, out)
		}
	})

	t.Run("usage", func(t *testing.T) {
		var ue usageError
		if _, _, err := validate(t, ""); !errors.As(err, &ue) {
			t.Errorf("no FILE: %v", err)
		}
		if _, _, err := validate(t, "", "--bogus", good); !errors.As(err, &ue) {
			t.Errorf("unknown flag: %v", err)
		}
		if out, _, err := validate(t, "", "-h"); err != nil || !strings.Contains(out, "-strict") {
			t.Errorf("help (on standard output): %v %q", err, out)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var out bytes.Buffer
		if err := runValidate(ctx, []string{good}, &out, &out); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v", err)
		}
	})
}

// runValidateOut calls the command as main does.
func runValidateOut(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runValidate(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestValidateCommandOnSharedExamples(t *testing.T) {
	dir := sharedTestdata(t, "stix/cti-stix2-json-schemas/examples")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	more, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatalf("no examples in %s", dir)
	}
	out, _, err := runValidateOut(t, files...)
	if err != nil || out != "valid 260, invalid 0\n" {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
}
