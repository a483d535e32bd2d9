package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// sharedSeeds returns the files under ../shared/<rel>.
func sharedSeeds(f *testing.F, rel string) [][]byte {
	f.Helper()
	dir := sharedDir(f, rel)
	var out [][]byte
	filepath.WalkDir(dir, func(path string, de os.DirEntry, err error) error {
		if err == nil && !de.IsDir() && filepath.Ext(path) == ".json" {
			if b, err := os.ReadFile(path); err == nil && len(b) < 256<<10 {
				out = append(out, b)
			}
		}
		return nil
	})
	return out
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{
		"[file:size = 1280]", "[a:b = 1] WITHIN 5 SECONDS", "([a:'b c'[*].d != h'ff'] OR [x:y NOT LIKE 'z%']) REPEATS 2 TIMES",
		"[a:b IN (1, -2.5, true, b'AAAA', t'2020-01-01T00:00:00Z')] FOLLOWEDBY [c:d ISSUBSET '10.0.0.0/8']",
		"[file:hashes.MD5 = 'x']", "[a:b = 1] /* c */ // d", "[NOT EXISTS a:b AND (c:d > 0 OR c:e < 1)]",
	} {
		f.Add(s)
	}
	b, err := os.ReadFile(filepath.Join(sharedDir(f, "testdata/patterns"), "pattern_cases.json"))
	if err != nil {
		f.Fatal(err)
	}
	var pc patternCases
	if err := json.Unmarshal(b, &pc); err != nil {
		f.Fatal(err)
	}
	for _, s := range append(append(pc.Pass, pc.Spec...), pc.TimestampPass...) {
		f.Add(s)
	}
	for _, c := range append(pc.Fail, pc.TimestampFail...) {
		f.Add(c[0])
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err != nil {
			var pe *PatternError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(s) || pe.Msg == "" {
				t.Fatalf("%q: bad error %#v", s, err)
			}
			return
		}
		// The canonical form parses back to itself.
		printed := p.String()
		p2, err := ParsePattern(printed)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, printed, err)
		}
		if again := p2.String(); again != printed {
			t.Fatalf("%q: canonical form unstable: %q then %q", s, printed, again)
		}
	})
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[a:b = 1]","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"type":"x-foo","id":"x-foo--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","extensions":{"extension-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f":null}}`))
	f.Add([]byte(`{"type":"ipv6-addr","id":"ipv6-addr--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","value":"::ffff:1.2.3.4"}`))
	f.Add([]byte(`{"type":"identity","spec_version":"2.1","id":"identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","name":"x","granular_markings":[{"lang":"de","selectors":["name"]}],"x_n":1e308}`))
	for _, dir := range []string{"testdata/stix/cti-stix2-json-schemas/examples", "testdata/stix/cti-stix-validator", "testdata/stix/stix2extensions/automodel_generated/examples"} {
		for _, file := range sharedSeeds(f, dir) {
			d := NewDecoder(bytes.NewReader(file), Limits{})
			for {
				raw, _, err := d.Next()
				if err == io.EOF || err != nil && !errors.As(err, new(*ElementError)) {
					break
				}
				if err == nil {
					f.Add(raw)
				}
			}
		}
	}
	def, strict := validators(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, v := range []*Validator{def, strict} {
			meta, err := v.Validate(raw)
			if err != nil {
				var ve *Error
				if !errors.As(err, &ve) || ve.Reason == "" {
					t.Fatalf("error is not a usable *Error: %#v", err)
				}
				continue
			}
			if meta.SpecVersion != "2.1" || meta.Type == "" || meta.ID == "" {
				t.Fatalf("valid object with meta %+v", meta)
			}
		}
		// The fast evaluator never accepts what the library rejects.
		doc, jerr := parseJSON(raw, Limits{})
		obj, ok := doc.(map[string]any)
		if jerr != nil || !ok {
			return
		}
		typ, _ := obj["type"].(string)
		ts, _ := def.schemas.forObject(obj, typ)
		if ts.fast.eval(obj, 0) == yes {
			if err := ts.schema.Validate(obj); err != nil {
				t.Fatalf("fast path accepts, library says %v", err)
			}
		}
	})
}

func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		`{"type":"bundle","objects":[{"a":1},2,{"b":[true,null,"\u00e9"]}]}`,
		"{\"a\":1}\n{\"b\":\n{\"c\":3}\n",
		`[{"a":1},{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}]`,
		`{"objects":5}`, `{"more":true,"objects":[{}]}`, "\xef\xbb\xbf[]", `{"objects":[],"type":"report"}`,
	} {
		f.Add([]byte(s))
	}
	for _, dir := range []string{"testdata/stix/cti-stix2-json-schemas/examples", "testdata/stix/cti-stix-validator", "testdata/stix/feeds2stix"} {
		for _, file := range sharedSeeds(f, dir) {
			f.Add(file)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, mk := range []func() *Decoder{
			func() *Decoder { return NewDecoder(bytes.NewReader(in), Limits{}) },
			func() *Decoder {
				return NewDecoder(bytes.NewReader(in), Limits{MaxObjectSize: 256, MaxDepth: 6, MaxProperties: 8})
			},
			func() *Decoder { return NewEnvelopeDecoder(bytes.NewReader(in), Limits{}) },
		} {
			d := mk()
			last := -1
			for calls := 0; ; calls++ {
				if calls > len(in)+2 {
					t.Fatal("decoder does not make progress")
				}
				raw, idx, err := d.Next()
				if err == io.EOF {
					break
				}
				var ee *ElementError
				if err != nil && !errors.As(err, &ee) {
					var de *DecodeError
					if !errors.As(err, &de) || de.Reason == "" {
						t.Fatalf("fatal error is not a *DecodeError: %#v", err)
					}
					break
				}
				if idx <= last {
					t.Fatalf("index %d after %d", idx, last)
				}
				last = idx
				if err != nil {
					continue
				}
				if !json.Valid(raw) || raw[0] != '{' || !bytes.Contains(in, raw) {
					t.Fatalf("object %d is not an exact JSON object of the input: %q", idx, raw)
				}
			}
		}
	})
}
