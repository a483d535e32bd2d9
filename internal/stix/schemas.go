package stix

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The schemas folder is git-ignored and filled by scripts/schemas.sh (the
// Makefile runs it before build, test and vet).
//
//go:embed schemas
var schemaFS embed.FS

// schemaBase is the $id prefix of every official schema.
const schemaBase = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"

type category int

const (
	catSDO category = iota // also SROs and the meta objects: they share core.json
	catSRO
	catSCO
	catMeta // marking-definition, language-content, extension-definition
)

// typeSchema is what the validator knows about one spec-defined type.
type typeSchema struct {
	schema *jsonschema.Schema
	fast   *fastNode
	cat    category
	props  map[string]bool // top-level properties the schema defines (strict mode)
}

type compiledSchemas struct {
	types   map[string]*typeSchema
	sdoCore *typeSchema       // custom SDO-like types
	scoCore *typeSchema       // custom SCO-like types
	names   map[string]string // every property name the schemas define, for interning
}

// embedLoader resolves schema URLs to the embedded files and refuses
// anything else, so compiling never reaches the network.
type embedLoader struct {
	fsys      fs.FS
	published bool // skip speedUp: the schemas exactly as published (tests)
}

func (l embedLoader) Load(url string) (any, error) {
	rel, ok := strings.CutPrefix(url, schemaBase)
	if !ok {
		return nil, fmt.Errorf("refusing to load %s: only the embedded STIX schemas are available", url)
	}
	clean := path.Clean(rel)
	if clean != rel || strings.HasPrefix(clean, "../") || !strings.HasSuffix(clean, ".json") {
		return nil, fmt.Errorf("refusing to load %s: not an embedded schema file", url)
	}
	b, err := fs.ReadFile(l.fsys, "schemas/"+clean)
	if err != nil {
		return nil, fmt.Errorf("embedded schema %s: %w (did scripts/schemas.sh run before the build?)", clean, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("embedded schema %s: %w", clean, err)
	}
	if !l.published {
		speedUp(clean, doc)
	}
	if err := fixSchema(clean, doc); err != nil {
		return nil, fmt.Errorf("embedded schema %s: %w", clean, err)
	}
	return doc, nil
}

// Formats registered by this package.
const (
	fmtTimestamp = "stix-timestamp"
	fmtIPv6      = "stix-ipv6"
)

// fixSchema works around upstream schema defects in memory (the files stay
// as published). It fails when the expected structure is not found, so a
// schema update cannot silently drop a workaround.
func fixSchema(rel string, doc any) error {
	switch rel {
	case "common/timestamp.json":
		// Real calendar dates: the pattern accepts 2021-02-30.
		m, ok := doc.(map[string]any)
		if !ok || m["pattern"] == nil {
			return fmt.Errorf("timestamp fix-up: unexpected structure")
		}
		m["format"] = fmtTimestamp
	case "common/granular-marking.json":
		// STIX 2.1 §7.2.3: exactly one of lang and marking_ref. The schema
		// requires marking_ref, so it refuses language markings and accepts
		// a marking with both.
		m, ok := doc.(map[string]any)
		req, _ := m["required"].([]any)
		if !ok || !sameJSON(req, `["selectors","marking_ref"]`) || m["oneOf"] != nil {
			return fmt.Errorf("granular-marking fix-up: unexpected structure")
		}
		m["required"] = []any{"selectors"}
		m["oneOf"] = []any{
			map[string]any{"required": []any{"lang"}},
			map[string]any{"required": []any{"marking_ref"}},
		}
	case "observables/ipv6-addr.json":
		// The value regex lost its backslashes upstream (\d became d), so
		// IPv4-mapped addresses fail; check the value in code instead.
		value := dig(doc, "allOf", 1, "properties", "value")
		m, ok := value.(map[string]any)
		if !ok || m["pattern"] == nil {
			return fmt.Errorf("ipv6-addr fix-up: unexpected structure")
		}
		delete(m, "pattern")
		m["format"] = fmtIPv6
	}
	return nil
}

// anyJSONValueButNull is the anyOf that properties.json and dictionary.json
// apply to every custom property and dictionary value.
const anyJSONValueButNull = `[{"minItems":1,"type":"array"},{"type":"string"},{"type":"integer"},{"type":"boolean"},{"type":"number"},{"type":"object"}]`

// reservedNames is the anyOf under "not" in the two core schemas.
const reservedNames = `[{"required":["severity"]},{"required":["action"]},{"required":["username"]},{"required":["phone_numbers"]}]`

// speedUp rewrites, when they are exactly as published, two constructs that
// cost an error object per failed branch on every property of every object
// (the validator library builds errors for failed anyOf branches even when
// the anyOf as a whole passes):
//   - anyOf [array with 1+ items, string, integer, boolean, number, object]
//     becomes {"type": [array, string, number, boolean, object], "minItems": 1};
//   - not {anyOf [required severity, required action, ...]} becomes
//     allOf {"properties": {"severity": false, ...}}.
//
// Both pairs accept exactly the same documents; schemas_test.go checks that
// the rewritten and the published schemas agree on all test data.
func speedUp(rel string, doc any) {
	switch rel {
	case "common/properties.json", "common/dictionary.json":
		pp, _ := dig(doc, "patternProperties").(map[string]any)
		for _, sub := range pp {
			m, ok := sub.(map[string]any)
			if !ok || len(m) != 1 || !sameJSON(m["anyOf"], anyJSONValueButNull) {
				continue
			}
			delete(m, "anyOf")
			m["type"] = []any{"array", "string", "number", "boolean", "object"}
			m["minItems"] = json.Number("1")
		}
	case "common/core.json", "common/cyber-observable-core.json":
		m, _ := doc.(map[string]any)
		not, _ := m["not"].(map[string]any)
		allOf, ok := m["allOf"].([]any)
		if !ok || len(not) != 1 || !sameJSON(not["anyOf"], reservedNames) {
			return
		}
		delete(m, "not")
		m["allOf"] = append(allOf, map[string]any{"properties": map[string]any{
			"severity": false, "action": false, "username": false, "phone_numbers": false,
		}})
	}
}

func sameJSON(v any, want string) bool {
	b, err := json.Marshal(v)
	return err == nil && string(b) == want
}

// dig follows map keys (string) and array indexes (int) through a JSON document.
func dig(v any, steps ...any) any {
	for _, s := range steps {
		switch k := s.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// compileSchemas compiles every type's schema; published skips the speed-up
// rewrites (tests compare both).
func compileSchemas(published bool) (*compiledSchemas, error) {
	return compileSchemasWith(published, false)
}

// compileSchemasWith can also leave the schema patterns to Go's regexp
// (stdRegexp), for the benchmark that keeps the package's speed claims checkable.
func compileSchemasWith(published, stdRegexp bool) (*compiledSchemas, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(embedLoader{fsys: schemaFS, published: published})
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if !stdRegexp {
		c.UseRegexpEngine(regexpEngine)
	}
	c.RegisterFormat(&jsonschema.Format{Name: fmtTimestamp, Validate: formatTimestamp})
	c.RegisterFormat(&jsonschema.Format{Name: fmtIPv6, Validate: formatIPv6})
	c.RegisterFormat(&jsonschema.Format{Name: "idn-hostname", Validate: formatIDNHostname})

	cs := &compiledSchemas{types: map[string]*typeSchema{}}
	memo := map[*jsonschema.Schema]*fastNode{}
	compile := func(rel string, cat category) (*typeSchema, error) {
		s, err := c.Compile(schemaBase + rel)
		if err != nil {
			return nil, fmt.Errorf("compiling %s: %w", rel, err)
		}
		props := map[string]bool{}
		collectProps(s, props, map[*jsonschema.Schema]bool{})
		return &typeSchema{schema: s, fast: buildFast(s, memo), cat: cat, props: props}, nil
	}
	add := func(rel string, cat category) error {
		ts, err := compile(rel, cat)
		if err != nil {
			return err
		}
		cs.types[strings.TrimSuffix(path.Base(rel), ".json")] = ts
		return nil
	}
	dirs := []struct {
		dir string
		cat category
	}{{"sdos", catSDO}, {"sros", catSRO}, {"observables", catSCO}}
	for _, d := range dirs {
		entries, err := fs.ReadDir(schemaFS, "schemas/"+d.dir)
		if err != nil {
			return nil, fmt.Errorf("embedded schemas: %w (did scripts/schemas.sh run before the build?)", err)
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".json") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		if len(names) == 0 {
			return nil, fmt.Errorf("embedded schemas: %s is empty", d.dir)
		}
		for _, n := range names {
			if err := add(d.dir+"/"+n, d.cat); err != nil {
				return nil, err
			}
		}
	}
	for _, n := range []string{"marking-definition", "language-content", "extension-definition"} {
		if err := add("common/"+n+".json", catMeta); err != nil {
			return nil, err
		}
	}
	var err error
	if cs.sdoCore, err = compile("common/core.json", catSDO); err != nil {
		return nil, err
	}
	if cs.scoCore, err = compile("common/cyber-observable-core.json", catSCO); err != nil {
		return nil, err
	}
	cs.names = map[string]string{}
	for _, n := range memo {
		for k := range n.props {
			cs.names[k] = k
		}
	}
	return cs, nil
}

// collectProps gathers the property names a schema defines at its own level,
// following $ref and the combinators.
func collectProps(s *jsonschema.Schema, into map[string]bool, seen map[*jsonschema.Schema]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	for k, sub := range s.Properties {
		if sub.Bool != nil && !*sub.Bool {
			continue // a forbidden name, not a defined property
		}
		into[k] = true
	}
	collectProps(s.Ref, into, seen)
	for _, list := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range list {
			collectProps(sub, into, seen)
		}
	}
	collectProps(s.If, into, seen)
	collectProps(s.Then, into, seen)
	collectProps(s.Else, into, seen)
}

func formatTimestamp(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	_, err := parseTimestamp(s)
	return err
}

// formatIPv6 accepts what the ipv6-addr schema meant: one IPv6 address
// (zone allowed) or an IPv6 CIDR block, including IPv4-mapped forms.
func formatIPv6(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is6() {
			return fmt.Errorf("%s is not an IPv6 address or CIDR block", quoteShort(s))
		}
		return nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return fmt.Errorf("%s is not an IPv6 address or CIDR block", quoteShort(s))
	}
	return nil
}
