package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type patternCases struct {
	Pass          []string    `json:"PASS_CASES"`
	Spec          []string    `json:"SPEC_CASES"`
	TimestampPass []string    `json:"TIMESTAMP_PASS_CASES"`
	Fail          [][2]string `json:"FAIL_CASES"`
	TimestampFail [][2]string `json:"TIMESTAMP_FAIL_CASES"`
}

func loadPatternCases(t testing.TB) patternCases {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedDir(t, "testdata/patterns"), "pattern_cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pc patternCases
	if err := json.Unmarshal(b, &pc); err != nil {
		t.Fatal(err)
	}
	if len(pc.Pass) == 0 || len(pc.Spec) == 0 || len(pc.TimestampPass) == 0 || len(pc.Fail) == 0 || len(pc.TimestampFail) == 0 {
		t.Fatal("pattern_cases.json lacks a group of cases")
	}
	return pc
}

func TestPatternVectors(t *testing.T) {
	pc := loadPatternCases(t)
	accept := map[string][]string{"PASS": pc.Pass, "SPEC": pc.Spec, "TIMESTAMP_PASS": pc.TimestampPass}
	for group, cases := range accept {
		for _, p := range cases {
			t.Run(group+"/"+p, func(t *testing.T) {
				if _, err := ParsePattern(p); err != nil {
					t.Errorf("ParsePattern(%q) = %v, want accepted", p, err)
				}
			})
		}
	}
	reject := map[string][][2]string{"FAIL": pc.Fail, "TIMESTAMP_FAIL": pc.TimestampFail}
	for group, cases := range reject {
		for _, c := range cases {
			p, ref := c[0], c[1]
			t.Run(group+"/"+p, func(t *testing.T) {
				_, err := ParsePattern(p)
				if err == nil {
					t.Fatalf("ParsePattern(%q) accepted; the reference says %s", p, ref)
				}
				var pe *PatternError
				if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(p) {
					t.Fatalf("error %v is not a *PatternError with an offset inside the pattern", err)
				}
				t.Logf("%s\n  ours: %v\n  ref:  %s", p, err, ref)
			})
		}
	}
}

func TestPatternSemanticMessages(t *testing.T) {
	pc := loadPatternCases(t)
	for _, c := range pc.Fail {
		p, ref := c[0], c[1]
		_, err := ParsePattern(p)
		switch {
		case strings.Contains(ref, "Duplicate qualifier"):
			if err == nil || !strings.Contains(err.Error(), "duplicate") {
				t.Errorf("%q: got %v, want a duplicate qualifier error", p, err)
			}
		case strings.Contains(ref, "is not a valid"):
			if err == nil || !strings.Contains(err.Error(), "is not a valid SHA-256 hash") {
				t.Errorf("%q: got %v, want a hash error", p, err)
			}
		}
	}
}

func TestParsePatternAST(t *testing.T) {
	p, err := ParsePattern(`([file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' OR file:name NOT IN ('a.exe', 'b\'s.exe')] FOLLOWEDBY [x-foo:list[*].val[-1] >= -2.5 AND NOT EXISTS x-foo:gone]) WITHIN 300 SECONDS START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T02:20:00.5Z' OR [a:b = true] REPEATS 2 TIMES`)
	if err != nil {
		t.Fatal(err)
	}
	or, ok := p.Root.(*ObservationOp)
	if !ok || or.Op != "OR" || len(or.Operands) != 2 {
		t.Fatalf("root %#v", p.Root)
	}
	g, ok := or.Operands[0].(*ObservationGroup)
	if !ok || len(g.Qualifiers) != 2 || g.Qualifiers[0].Kind != QualifierWithin || g.Qualifiers[0].Value != "300" ||
		g.Qualifiers[1].Kind != QualifierStartStop || g.Qualifiers[1].Start != "2016-06-01T01:30:00Z" || g.Qualifiers[1].Stop != "2016-06-01T02:20:00.5Z" {
		t.Fatalf("group %#v", or.Operands[0])
	}
	fb, ok := g.Expr.(*ObservationOp)
	if !ok || fb.Op != "FOLLOWEDBY" || len(fb.Operands) != 2 {
		t.Fatalf("followedby %#v", g.Expr)
	}
	first := fb.Operands[0].(*Observation).Comparison.(*ComparisonOp)
	in := first.Operands[1].(*Comparison)
	if first.Op != "OR" || in.Operator != "IN" || !in.Negated || len(in.Values) != 2 || in.Values[1].Value != "b's.exe" || in.Values[1].Kind != LiteralString {
		t.Fatalf("IN comparison %#v", in)
	}
	hash := first.Operands[0].(*Comparison)
	if hash.Path.ObjectType != "file" || len(hash.Path.Steps) != 2 || hash.Path.Steps[1].Key != "SHA-256" {
		t.Fatalf("hash path %#v", hash.Path)
	}
	second := fb.Operands[1].(*Observation).Comparison.(*ComparisonOp)
	ge := second.Operands[0].(*Comparison)
	steps := ge.Path.Steps
	if ge.Operator != ">=" || ge.Values[0].Kind != LiteralFloat || ge.Values[0].Text != "-2.5" ||
		len(steps) != 4 || !steps[1].Any || steps[2].Key != "val" || steps[3].Index != -1 || steps[3].IsKey {
		t.Fatalf(">= comparison %#v", ge)
	}
	exists := second.Operands[1].(*Comparison)
	if exists.Operator != "EXISTS" || !exists.Negated || exists.Path.ObjectType != "x-foo" {
		t.Fatalf("EXISTS %#v", exists)
	}
	rep := or.Operands[1].(*Observation)
	if len(rep.Qualifiers) != 1 || rep.Qualifiers[0].Kind != QualifierRepeats || rep.Comparison.(*Comparison).Values[0].Kind != LiteralBool {
		t.Fatalf("repeats %#v", rep)
	}
}

func TestParsePatternErrors(t *testing.T) {
	tests := []struct {
		pattern string
		offset  int
		msg     string
	}{
		{"", 0, "expected '[' or '(' but the pattern ended"},
		{"[file:name = 'x'", 16, "expected ']' but the pattern ended"},
		{"[file:name = 'x'] AND", 21, "expected '[' or '(' but the pattern ended"},
		{"[file:name = 'x]", 13, "unterminated string"},
		{`[file:name = 'a\d']`, 15, `invalid escape`},
		{"[file:size = 012]", 13, "leading zero"},
		{"[file:size < true]", 13, "expected an orderable value"},
		{"[file:name-x = 'a']", 6, "expected a property name"},
		{"[file:a.b-c = 'a']", 8, "expected a property name after '.'"},
		{"[file:a[x] = 1]", 8, "expected a list index"},
		{"[file:a LIKE 5]", 13, "expected a string after LIKE"},
		{"[file:a IN 'x']", 11, "expected '(' after IN"},
		{"[file:a IN ('x' 'y')]", 16, "expected ',' or ')'"},
		{"[file:a = 'x'] REPEATS 0.5 TIMES", 23, "positive integer"},
		{"[file:a = 'x'] START t'2016-01-01T00:00:00Z'", 44, "expected STOP"},
		{"[file:a = h'abc']", 10, "odd number of digits"},
		{"[file:a = h'zz']", 10, "not a hex digit"},
		{"[file:a = b'']", 10, "not padded base64"},
		{"[file:a = 'x'] /* open", 15, "unterminated comment"},
		{"[file:a = 'x'] and [file:b = 1]", 15, "(keywords are upper-case: AND)"},
		{"[file:hashes.md5 = 'abc']", 19, "'abc' is not a valid md5 hash"},
		{"[file:hashes.'SHA-1' IN ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'b')]", 69, "'b' is not a valid SHA-1 hash"},
		{"[file:hashes.SSDEEP = 'a b']", 22, "not a valid SSDEEP hash"},
		{"[file:hashes.MD5 = 5]", 19, "5 is not a valid MD5 hash"},
		{"[a:b = 1] REPEATS 2 TIMES REPEATS 3 TIMES", 26, "duplicate REPEATS qualifier"},
		{"[a:b = 1] €", 10, "unexpected character '€'"},
	}
	for _, tc := range tests {
		_, err := ParsePattern(tc.pattern)
		var pe *PatternError
		if !errors.As(err, &pe) {
			t.Errorf("%q: got %v, want a *PatternError", tc.pattern, err)
			continue
		}
		if pe.Offset != tc.offset || !strings.Contains(pe.Msg, tc.msg) {
			t.Errorf("%q: got %q at %d, want %q at %d", tc.pattern, pe.Msg, pe.Offset, tc.msg, tc.offset)
		}
		if !strings.HasSuffix(err.Error(), fmt.Sprintf("at offset %d", tc.offset)) {
			t.Errorf("Error() = %q", err.Error())
		}
	}
}

func TestParsePatternAccepts(t *testing.T) {
	for _, p := range []string{
		"[a:b = 1] // trailing comment",
		"/* lead */ [a:b = 1]",
		"[a:b\u00a0=\u30001]",
		"[a:b = +1] WITHIN +.5 SECONDS",
		"[a:'odd name'.'x y'[0] = 'v']",
		"[a:b IN ()]",
		"[a:b = h'']",
		"[a:b <> 'x']",
		"[a:b MATCHES 'multi\nline']",
		"[file:hashes.MD5 LIKE 'abc%']",
		"[file:hashes.'x-custom' = 'anything']",
		"[file:hashes[*] = 'abc']",
		"([a:b = 1]) START t'2016-01-01T00:00:00Z' STOP t'2016-01-01T00:00:00Z' START t'2016-01-01T00:00:00Z' STOP t'2017-01-01T00:00:00Z'",
	} {
		if _, err := ParsePattern(p); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
}
