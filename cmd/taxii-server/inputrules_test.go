package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// withScore is indicator(0, n) with a custom number property.
func withScore(n int, lit string) string {
	return strings.Replace(indicator(0, n), `"pattern_type"`, `"x_score":`+lit+`,"pattern_type"`, 1)
}

// TestImportAndValidateNumberRule: import and validate refuse the numbers
// the server refuses on POST, one object at a time, with the rule.
func TestImportAndValidateNumberRule(t *testing.T) {
	input := indicator(0, 1) + "\n" + withScore(2, "-1e400") + "\n" + withScore(3, strings.Repeat("7", 101)) + "\n" + withScore(4, "0.5") + "\n"

	b := binaries(t)["sqlite"](t)
	stdout, stderr, err := b.run(context.Background(), input, "import", "-")
	if err == nil || stdout != "imported 2, unchanged 0, conflicting 0, rejected 2\n" {
		t.Fatalf("import: err=%v stdout=%q stderr=%s", err, stdout, stderr)
	}
	for _, want := range []string{
		"<stdin>: object 2 indicator--00000002-0000-4000-8000-000000000000: /x_score: the number -1e400 is beyond the range of an IEEE-754 double",
		"<stdin>: object 3 indicator--00000003-0000-4000-8000-000000000000: /x_score: a number of 101 digits; numbers have at most 100 digits",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("import stderr lacks %q:\n%s", want, stderr)
		}
	}

	out, _, err := validate(t, input, "-")
	if err == nil || !strings.HasSuffix(out, "valid 2, invalid 2\n") {
		t.Fatalf("validate: err=%v output:\n%s", err, out)
	}
	for _, want := range []string{
		"<stdin>: object 2: indicator--00000002-0000-4000-8000-000000000000: /x_score: the number -1e400 is beyond",
		"<stdin>: object 3: indicator--00000003-0000-4000-8000-000000000000: /x_score: a number of 101 digits",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}

// TestRejectionsNameTheObject: an object over the size limit and one with a
// JSON-level error are named by their id in validate and in import alike.
func TestRejectionsNameTheObject(t *testing.T) {
	dup := strings.Replace(indicator(0, 5), `"pattern_type"`, `"pattern_type":"stix","pattern_type"`, 1)
	big := strings.Replace(indicator(0, 6), `"pattern_type"`, `"x_pad":"`+strings.Repeat("a", 11<<20)+`","pattern_type"`, 1)

	out, _, err := validate(t, dup+"\n"+big+"\n", "-")
	if err == nil {
		t.Fatal("validate accepted")
	}
	for _, want := range []string{
		"<stdin>: object 1: indicator--00000005-0000-4000-8000-000000000000: /pattern_type: invalid JSON: duplicate property \"pattern_type\"",
		"<stdin>: object 2: indicator--00000006-0000-4000-8000-000000000000: -: the object has " + fmt.Sprint(len(big)) + " bytes: larger than 10485760 bytes, the limit for one object (line 2)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}

	b := binaries(t)["sqlite"](t)
	_, stderr, err := b.run(context.Background(), dup+"\n", "import", "-")
	if err == nil || !strings.Contains(stderr, "<stdin>: object 1 indicator--00000005-0000-4000-8000-000000000000: /pattern_type: invalid JSON: duplicate property") {
		t.Fatalf("import: err=%v stderr=%s", err, stderr)
	}
}
