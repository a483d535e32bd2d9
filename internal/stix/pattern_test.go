package stix

import (
	"encoding/json"
	"errors"
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
