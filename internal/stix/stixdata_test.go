package stix

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sample is one object read from the shared test data.
type sample struct {
	where string // file:index
	raw   []byte
}

// loadSamples decodes every .json file under dir. Decoder errors are
// returned by file so tests can assert on them.
func loadSamples(t testing.TB, dir string) ([]sample, map[string]error) {
	t.Helper()
	var out []sample
	fileErrs := map[string]error{}
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(dir, path)
		d := NewDecoder(f, Limits{})
		for {
			raw, i, err := d.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				fileErrs[rel] = err
				var ee *ElementError
				if errors.As(err, &ee) {
					continue
				}
				return nil
			}
			out = append(out, sample{where: fmt.Sprintf("%s:%d", rel, i), raw: raw})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, fileErrs
}

// The official examples must all be valid STIX 2.1, on the fast path.
func TestOfficialExamplesValidate(t *testing.T) {
	def, _ := validators(t)
	for _, tc := range []struct {
		dir  string
		want int // objects in the pinned data (SOURCE.md)
	}{
		{"testdata/stix/cti-stix2-json-schemas/examples", 260},
		{"testdata/stix/cti-documentation", 293},
	} {
		t.Run(filepath.Base(filepath.Dir(tc.dir+"/x")), func(t *testing.T) {
			samples, fileErrs := loadSamples(t, sharedDir(t, tc.dir))
			for f, err := range fileErrs {
				t.Errorf("%s: %v", f, err)
			}
			if len(samples) != tc.want {
				t.Errorf("decoded %d objects, want %d", len(samples), tc.want)
			}
			for _, s := range samples {
				meta, err := def.Validate(s.raw)
				if err != nil {
					t.Errorf("%s: %v", s.where, err)
					continue
				}
				if meta.SpecVersion != "2.1" || meta.ID == "" {
					t.Errorf("%s: meta %+v", s.where, meta)
				}
			}
		})
	}
}

// cti-stix-validator ships valid and invalid examples; ours must agree, with
// reasons that say what is wrong.
func TestStixValidatorExamples(t *testing.T) {
	def, strict := validators(t)
	dir := sharedDir(t, "testdata/stix/cti-stix-validator/stix2validator/test/v21/test_examples")
	type want struct {
		decode   error  // fatal decoder error kind
		reason   string // default mode; "" = valid
		path     string
		strictRe string // strict mode, when it differs
	}
	expect := map[string]want{
		"identity.json":          {},
		"identity_unicode.json":  {},
		"identity_warning.json":  {},
		"tlp-amber.json":         {},
		"identity_custom.json":   {strictRe: "property foo is not defined by STIX 2.1 for identity objects"},
		"tool.json":              {strictRe: "property bar_value is not defined by STIX 2.1 for tool objects"},
		"invalid_braces.json":    {decode: ErrNotJSON},
		"invalid_comma.json":     {decode: ErrNotJSON},
		"invalid_identity.json":  {path: "/modified", reason: "required property modified is missing"},
		"invalid_timestamp.json": {path: "/modified", reason: "modified is earlier than created"},
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(expect) {
		t.Errorf("%d example files, expected %d: update the table", len(entries), len(expect))
	}
	for name, w := range expect {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			d := NewDecoder(strings.NewReader(string(b)), Limits{})
			raw, _, err := d.Next()
			if w.decode != nil {
				if !errors.Is(err, w.decode) {
					t.Fatalf("decoder: got %v, want %v", err, w.decode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			check := func(v *Validator, path, reason string) {
				t.Helper()
				_, err := v.Validate(raw)
				if reason == "" {
					if err != nil {
						t.Fatalf("want valid, got %v", err)
					}
					return
				}
				var ve *Error
				if !errors.As(err, &ve) || ve.Path != path || !strings.Contains(ve.Reason, reason) {
					t.Fatalf("got %v, want %s: %s", err, path, reason)
				}
			}
			check(def, w.path, w.reason)
			if w.strictRe != "" {
				check(strict, "/"+strings.Fields(w.strictRe)[1], w.strictRe)
			} else {
				check(strict, w.path, w.reason)
			}
		})
	}
}

// STIX 2.0 content is refused as such, never stored as 2.1.
func TestStix20Refused(t *testing.T) {
	def, _ := validators(t)
	for _, tc := range []struct {
		dir  string
		want int
	}{
		{"testdata/stix/playbook_viewer", 3651},
		{"testdata/stix/cti-stix-validator/stix2validator/test/v20", 0},
		{"testdata/stix/cti-python-stix2/stix2/test/v20", 0},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			samples, _ := loadSamples(t, sharedDir(t, tc.dir))
			if tc.want > 0 && len(samples) != tc.want {
				t.Errorf("decoded %d objects, want %d", len(samples), tc.want)
			}
			if len(samples) == 0 {
				t.Fatal("no objects")
			}
			reasons := map[string]int{}
			for _, s := range samples {
				_, err := def.Validate(s.raw)
				var ve *Error
				if !errors.As(err, &ve) {
					t.Errorf("%s: accepted STIX 2.0 content", s.where)
					continue
				}
				if ve.Path == "/spec_version" && strings.Contains(ve.Reason, "STIX 2.0") {
					reasons["2.0"]++
					continue
				}
				reasons[ve.Path+": "+ve.Reason]++
			}
			// The validator's v20 examples include broken JSON and invalid
			// objects; everything that parses as an object is 2.0 first.
			if len(reasons) != 1 || reasons["2.0"] == 0 {
				keys := make([]string, 0, len(reasons))
				for k := range reasons {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				t.Errorf("not all refused as STIX 2.0: %v", keys)
			}
		})
	}
}

// Real-world quirks listed in testdata/stix/SOURCE.md.
func TestRealWorldQuirks(t *testing.T) {
	def, _ := validators(t)
	// feeds2stix carries an ATT&CK object without spec_version among 2.1
	// content: it is refused as 2.0, with its id; the rest is valid.
	samples, _ := loadSamples(t, sharedDir(t, "testdata/stix/feeds2stix"))
	missing := 0
	for _, s := range samples {
		if _, err := def.Validate(s.raw); err != nil {
			var ve *Error
			if errors.As(err, &ve) && ve.Path == "/spec_version" && ve.ID != "" {
				missing++
				continue
			}
			t.Errorf("%s: %v", s.where, err)
		}
	}
	if missing == 0 {
		t.Error("expected the ATT&CK object without spec_version to be refused")
	}
	if len(samples) < 100 {
		t.Errorf("only %d feed objects", len(samples))
	}

	// Custom SCO types without created/modified are valid.
	samples, _ = loadSamples(t, sharedDir(t, "testdata/stix/stix2extensions/automodel_generated/examples/scos"))
	for _, s := range samples {
		if _, err := def.Validate(s.raw); err != nil {
			t.Errorf("%s: %v", s.where, err)
		}
	}

	// The same (id, modified) more than once is the store's business, not
	// the validator's: each copy is valid on its own.
	samples, _ = loadSamples(t, sharedDir(t, "testdata/stix/stix4doge/objects"))
	seen := map[string]int{}
	for _, s := range samples {
		meta, err := def.Validate(s.raw)
		if err != nil {
			t.Errorf("%s: %v", s.where, err)
			continue
		}
		seen[meta.ID+" "+meta.Modified+meta.Created]++
	}
	dups := 0
	for _, n := range seen {
		if n > 1 {
			dups++
		}
	}
	if dups == 0 {
		t.Error("stix4doge should repeat some (id, modified) pairs")
	}
}
