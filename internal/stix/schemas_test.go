package stix

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoaderIsOffline(t *testing.T) {
	l := embedLoader{fsys: schemaFS}
	for _, url := range []string{
		"https://example.com/schema.json",
		"http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/master/schemas/common/core.json",
		schemaBase + "../../../etc/passwd.json",
		schemaBase + "common/../common/core.json",
		schemaBase + "common/core.yaml",
		"file:///etc/passwd",
	} {
		if _, err := l.Load(url); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("Load(%q) = %v, want a refusal", url, err)
		}
	}
	if _, err := l.Load(schemaBase + "common/nope.json"); err == nil || !strings.Contains(err.Error(), "schemas.sh") {
		t.Errorf("missing file: %v", err)
	}
	doc, err := l.Load(schemaBase + "common/core.json")
	if err != nil || dig(doc, "title") != "core" {
		t.Errorf("core.json: %v, %v", doc, err)
	}
}

func TestEmbeddedSchemasComplete(t *testing.T) {
	cs, err := compileSchemas(false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident", "indicator",
		"infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note", "observed-data",
		"opinion", "report", "threat-actor", "tool", "vulnerability",
		"relationship", "sighting",
		"artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message", "file",
		"ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url",
		"user-account", "windows-registry-key", "x509-certificate",
		"marking-definition", "language-content", "extension-definition",
	}
	got := slices.Sorted(maps.Keys(cs.types))
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("types with a schema:\n got %v\nwant %v", got, want)
	}
	if cs.types["bundle"] != nil {
		t.Error("bundle must never be validated as an object")
	}
	if p := cs.types["indicator"].props; !p["pattern"] || !p["created"] || !p["valid_until"] || p["severity"] {
		t.Errorf("indicator properties: %v", p)
	}
}

func TestFixSchemaFailsLoudly(t *testing.T) {
	for _, rel := range []string{"common/timestamp.json", "observables/ipv6-addr.json", "common/granular-marking.json"} {
		if err := fixSchema(rel, map[string]any{"title": "changed upstream"}); err == nil {
			t.Errorf("%s: a fix-up that no longer applies must fail", rel)
		}
	}
	if err := fixSchema("sdos/tool.json", map[string]any{}); err != nil {
		t.Errorf("other files are left alone: %v", err)
	}
}

func TestMissingSchemasAreReported(t *testing.T) {
	l := embedLoader{fsys: fstest.MapFS{}}
	if _, err := l.Load(schemaBase + "common/core.json"); err == nil || !strings.Contains(err.Error(), "scripts/schemas.sh") {
		t.Errorf("got %v", err)
	}
}

// mutations derives variants of an object that exercise the schemas: every
// top-level and second-level property removed or replaced by values of
// other JSON types.
func mutations(doc map[string]any) []map[string]any {
	values := []any{nil, true, json.Number("-1"), json.Number("1.5"), "", "x--1", []any{}, []any{"a"}, map[string]any{}, map[string]any{"a": "b"}}
	var out []map[string]any
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		m := maps.Clone(doc)
		delete(m, k)
		out = append(out, m)
		for _, v := range values {
			m := maps.Clone(doc)
			m[k] = v
			out = append(out, m)
		}
		if inner, ok := doc[k].(map[string]any); ok {
			for _, k2 := range slices.Sorted(maps.Keys(inner)) {
				for _, v := range values[:5] {
					in := maps.Clone(inner)
					in[k2] = v
					m := maps.Clone(doc)
					m[k] = in
					out = append(out, m)
				}
			}
		}
		if list, ok := doc[k].([]any); ok && len(list) > 0 {
			if first, ok := list[0].(map[string]any); ok {
				for _, k2 := range slices.Sorted(maps.Keys(first)) {
					in := maps.Clone(first)
					delete(in, k2)
					m := maps.Clone(doc)
					m[k] = append([]any{in}, list[1:]...)
					out = append(out, m)
				}
			}
		}
	}
	return out
}

// TestFastPathAgreesWithLibrary checks the two shortcuts against the
// library on the published schemas: the speed-up rewrites accept exactly
// the same objects, and the allocation-free evaluator never says yes where
// the library says no (and says yes for every valid real object).
func TestFastPathAgreesWithLibrary(t *testing.T) {
	fast, err := compileSchemas(false)
	if err != nil {
		t.Fatal(err)
	}
	published, err := compileSchemas(true)
	if err != nil {
		t.Fatal(err)
	}
	var samples []sample
	for _, dir := range []string{"cti-stix2-json-schemas", "cti-documentation", "cti-python-stix2", "misp-stix", "stix2extensions", "stix4doge", "feeds2stix", "cti-stix-validator"} {
		s, _ := loadSamples(t, sharedDir(t, "testdata/stix/"+dir))
		samples = append(samples, s...)
	}
	check := func(where string, doc map[string]any, real bool) {
		typ, _ := doc["type"].(string)
		fs, _ := fast.forObject(doc, typ)
		ps, _ := published.forObject(doc, typ)
		libOK := fs.schema.Validate(doc) == nil
		pubOK := ps.schema.Validate(doc) == nil
		evalr := fs.fast.eval(doc, 0)
		if libOK != pubOK {
			t.Errorf("%s: rewritten schemas say %v, published say %v", where, libOK, pubOK)
		}
		if evalr == yes && !pubOK {
			t.Errorf("%s: fast evaluator accepts what the library rejects", where)
		}
		if evalr == no && pubOK {
			t.Errorf("%s: fast evaluator is certain of a rejection the library does not make", where)
		}
		if real && pubOK && evalr != yes {
			t.Errorf("%s: a valid real object misses the fast path (%v)", where, evalr)
		}
	}
	perType := map[string]int{}
	mutated := 0
	for _, s := range samples {
		v, jerr := parseJSON(s.raw, Limits{})
		doc, ok := v.(map[string]any)
		if jerr != nil || !ok {
			continue
		}
		check(s.where, doc, true)
		typ, _ := doc["type"].(string)
		if perType[typ] >= 2 {
			continue
		}
		perType[typ]++
		for i, m := range mutations(doc) {
			check(fmt.Sprintf("%s mutation %d", s.where, i), m, false)
			mutated++
		}
	}
	if len(samples) < 1000 || mutated < 5000 {
		t.Errorf("only %d samples and %d mutations", len(samples), mutated)
	}
	t.Logf("%d real objects, %d mutations, %d types", len(samples), mutated, len(perType))
}
