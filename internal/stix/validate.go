package stix

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Options configure a Validator.
type Options struct {
	// Strict refuses custom content the specification only tolerates; see
	// the package documentation.
	Strict bool
	// Limits bound the JSON of one object; zero fields take the defaults.
	Limits Limits
}

// Validator validates STIX 2.1 objects. It is safe for concurrent use.
type Validator struct {
	strict  bool
	lim     Limits
	schemas *compiledSchemas
}

// NewValidator compiles the embedded schemas (once per Validator).
func NewValidator(opts Options) (*Validator, error) {
	cs, err := compileSchemas(false)
	if err != nil {
		return nil, err
	}
	return &Validator{strict: opts.Strict, lim: opts.Limits.normalized(), schemas: cs}, nil
}

// Meta is what the store needs from a valid object: exact strings as they
// appear in the object. SpecVersion is "2.1", also for SCOs that omit it;
// Created and Modified are empty where the type has none (SCOs, and
// Modified for marking definitions).
type Meta struct {
	ID, Type, SpecVersion, Created, Modified string
}

// Error explains why one object is invalid.
type Error struct {
	ID     string // the object's id, when it has a readable one
	Path   string // JSON pointer to the offending value, e.g. /pattern; "" for the whole object
	Reason string // for a person: what is wrong and, where possible, what is expected
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.ID != "" {
		b.WriteString(e.ID)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Result is the outcome of validating one object in ValidateAll.
type Result struct {
	Meta Meta
	// Digest is the content digest of a valid object (see Digest): the stores
	// tell a repeated version from a conflicting one by it.
	Digest []byte
	Err    error
}

// ValidateAll validates raws on GOMAXPROCS workers; results keep the input order.
func (v *Validator) ValidateAll(raws [][]byte) []Result {
	res := make([]Result, len(raws))
	workers := min(runtime.GOMAXPROCS(0), (len(raws)+chunkSize-1)/chunkSize)
	if workers <= 1 {
		for i, raw := range raws {
			res[i] = v.validate(raw)
		}
		return res
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				start := int(next.Add(chunkSize)) - chunkSize
				if start >= len(raws) {
					return
				}
				for i := start; i < min(start+chunkSize, len(raws)); i++ {
					res[i] = v.validate(raws[i])
				}
			}
		})
	}
	wg.Wait()
	return res
}

// chunkSize objects are handed to a worker at a time: small enough to
// balance uneven objects, large enough to keep the counter cold.
const chunkSize = 16

// Validate checks one object's raw JSON. On failure the error is an *Error;
// the returned Meta then holds what could be read (ID, Type).
func (v *Validator) Validate(raw []byte) (Meta, error) {
	r := v.validate(raw)
	return r.Meta, r.Err
}

// validate is Validate with the digest of a valid object.
func (v *Validator) validate(raw []byte) Result {
	var meta Meta
	doc, jerr := parseJSONNames(raw, v.lim, v.schemas.names)
	if jerr != nil {
		// The id is read from the text, so every caller names the object
		// the same way, also when its JSON is broken.
		meta.ID = sniffID(raw)
		if jerr.rule {
			return Result{Meta: meta, Err: &Error{ID: meta.ID, Path: jerr.pointer(), Reason: jerr.msg}}
		}
		return Result{Meta: meta, Err: &Error{ID: meta.ID, Path: jerr.pointer(), Reason: fmt.Sprintf("invalid JSON: %s (offset %d)", jerr.msg, jerr.offset)}}
	}
	meta, err := v.validateDoc(doc)
	if err != nil {
		return Result{Meta: meta, Err: err}
	}
	// From the tree validation parsed: the digest costs no second parse.
	return Result{Meta: meta, Digest: digestOf(doc)}
}

// validateDoc checks an object parsed by parseJSONNames (or, in the
// benchmark of the library-only path, by the schema library's decoder).
func (v *Validator) validateDoc(doc any) (Meta, error) {
	var meta Meta
	obj, ok := doc.(map[string]any)
	if !ok {
		return meta, &Error{Reason: "not a JSON object"}
	}
	meta.ID, _ = obj["id"].(string)
	fail := func(path, format string, args ...any) (Meta, error) {
		return meta, &Error{ID: meta.ID, Path: path, Reason: fmt.Sprintf(format, args...)}
	}

	typ, ok := obj["type"].(string)
	switch {
	case obj["type"] == nil:
		return fail("/type", "required property type is missing")
	case !ok:
		return fail("/type", "type must be a string")
	case typ == "bundle":
		return fail("/type", "a bundle is a container, not an object: submit the objects it holds")
	}
	meta.Type = typ

	ts := v.schemas.types[typ]
	schema, declared := v.schemas.forObject(obj, typ)
	if ts == nil && v.strict && !declared && !strings.HasPrefix(typ, "x-") {
		return fail("/type", "unknown object type %s: strict mode accepts custom types only with the x- prefix or declared by an extension-definition (new-sdo, new-sco, new-sro)", quoteShort(typ))
	}

	// spec_version first: for STIX 2.0 content it is the one useful message.
	switch sv, present := obj["spec_version"]; {
	case !present && schema.cat != catSCO:
		return fail("/spec_version", "spec_version is missing, so this is STIX 2.0 content, which is not accepted; this server stores STIX 2.1 (SDOs and SROs carry spec_version \"2.1\")")
	case present && sv == "2.0":
		return fail("/spec_version", "STIX 2.0 content is not accepted; this server stores STIX 2.1")
	case present && sv != "2.1":
		return fail("/spec_version", "spec_version must be \"2.1\", not %s", display(sv))
	}
	meta.SpecVersion = "2.1"

	if id, ok := obj["id"].(string); ok {
		if reason := checkID(id, typ); reason != "" {
			return fail("/id", "%s", reason)
		}
	}

	if schema.fast.eval(doc, 0) != yes {
		if err := schema.schema.Validate(doc); err != nil {
			path, reason := explain(obj, typ)
			if reason == "" {
				path, reason = schemaReason(err)
			}
			return fail(path, "%s", reason)
		}
	}

	meta.Created, _ = obj["created"].(string)
	meta.Modified, _ = obj["modified"].(string)
	if path, reason := checkTimes(obj, typ); reason != "" {
		return fail(path, "%s", reason)
	}

	if pattern, ok := obj["pattern"].(string); ok && typ == "indicator" && obj["pattern_type"] == "stix" {
		if _, err := ParsePattern(pattern); err != nil {
			return fail("/pattern", "%s", err.Error())
		}
	}

	if v.strict && ts != nil && !declaresToplevelExtension(obj) {
		var unknown []string
		for k := range obj {
			if !ts.props[k] && !strings.HasPrefix(k, "x_") {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return fail("/"+escapePointer(pointerSegment(unknown[0])), "property %s is not defined by STIX 2.1 for %s objects; custom properties need the x_ prefix (strict mode)", shortText(unknown[0]), typ)
		}
	}
	return meta, nil
}

// forObject picks the schema for an object of type typ: its own, or for a
// custom type one of the two core schemas; declared reports a custom type
// announced by an extension-definition.
func (cs *compiledSchemas) forObject(obj map[string]any, typ string) (ts *typeSchema, declared bool) {
	if ts := cs.types[typ]; ts != nil {
		return ts, false
	}
	sco, declared := customKind(obj)
	if sco {
		return cs.scoCore, declared
	}
	return cs.sdoCore, declared
}

// customKind tells how to treat an object of a type the specification does
// not define: as an SCO (no created/modified, or declared new-sco) or as an
// SDO/SRO; declared reports an extension-definition announcing the type.
func customKind(obj map[string]any) (sco, declared bool) {
	switch extensionKind(obj, "new-sco", "new-sdo", "new-sro") {
	case "new-sco":
		return true, true
	case "new-sdo", "new-sro":
		return false, true
	}
	_, created := obj["created"]
	_, modified := obj["modified"]
	return !created && !modified, false
}

// extensionKind returns the first of kinds found as extension_type of an
// extension-definition-- entry in the object's extensions.
func extensionKind(obj map[string]any, kinds ...string) string {
	exts, _ := obj["extensions"].(map[string]any)
	for k, e := range exts {
		if !strings.HasPrefix(k, "extension-definition--") {
			continue
		}
		m, _ := e.(map[string]any)
		et, _ := m["extension_type"].(string)
		for _, want := range kinds {
			if et == want {
				return et
			}
		}
	}
	return ""
}

func declaresToplevelExtension(obj map[string]any) bool {
	return extensionKind(obj, "toplevel-property-extension") != ""
}

// checkID checks type--UUID with the object's own type.
func checkID(id, typ string) string {
	prefix, uuid, ok := strings.Cut(id, "--")
	if !ok {
		return fmt.Sprintf("%s is not a STIX identifier (%s<UUID>)", quoteShort(id), shortText(typ+"--"))
	}
	if prefix != typ {
		return fmt.Sprintf("id %s does not match the object's type: it must start with %s", quoteShort(id), quoteShort(typ+"--"))
	}
	if !uuidShape(uuid) {
		return fmt.Sprintf("id %s: %s is not a UUID (8-4-4-4-12 hex digits)", quoteShort(id), quoteShort(uuid))
	}
	return ""
}

func uuidShape(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHexDigit(s[i]) {
				return false
			}
		}
	}
	return true
}

// timeOrder is a pair of timestamps the specification orders.
type timeOrder struct {
	types       []string
	early, late string
	strict      bool // late must be strictly later
}

var timeOrders = []timeOrder{
	{types: []string{"indicator"}, early: "valid_from", late: "valid_until", strict: true},
	{types: []string{"campaign", "infrastructure", "intrusion-set", "malware", "threat-actor", "sighting"}, early: "first_seen", late: "last_seen"},
	{types: []string{"observed-data"}, early: "first_observed", late: "last_observed"},
	{types: []string{"relationship"}, early: "start_time", late: "stop_time", strict: true},
	{types: []string{"network-traffic"}, early: "start", late: "end"},
}

// checkTimes checks modified >= created and the ordered pairs above. The
// schema has already checked each timestamp's form and date.
func checkTimes(obj map[string]any, typ string) (path, reason string) {
	if p, r := order(obj, "created", "modified", false); r != "" {
		return p, r
	}
	for _, o := range timeOrders {
		for _, t := range o.types {
			if t == typ {
				if p, r := order(obj, o.early, o.late, o.strict); r != "" {
					return p, r
				}
			}
		}
	}
	return "", ""
}

func order(obj map[string]any, early, late string, strict bool) (path, reason string) {
	es, ok1 := obj[early].(string)
	ls, ok2 := obj[late].(string)
	if !ok1 || !ok2 {
		return "", ""
	}
	e, err1 := parseTimestamp(es)
	l, err2 := parseTimestamp(ls)
	if err1 != nil || err2 != nil {
		return "", "" // reported by the schema
	}
	switch {
	case l.before(e):
		return "/" + late, fmt.Sprintf("%s is earlier than %s (%s < %s)", late, early, ls, es)
	case strict && !e.before(l):
		return "/" + late, fmt.Sprintf("%s must be later than %s (both %s)", late, early, ls)
	}
	return "", ""
}

// sniffID finds a plausible "id" in JSON that did not parse, so the error
// can still name the object.
func sniffID(raw []byte) string {
	s := string(raw[:min(len(raw), 4096)])
	i := strings.Index(s, `"id"`)
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(s[i+4:], " \t\r\n")
	if !strings.HasPrefix(rest, ":") {
		return ""
	}
	rest = strings.TrimLeft(rest[1:], " \t\r\n")
	if !strings.HasPrefix(rest, `"`) {
		return ""
	}
	end := strings.IndexAny(rest[1:], `"\`)
	if end < 0 || end > 300 {
		return ""
	}
	id := rest[1 : 1+end]
	if _, _, ok := strings.Cut(id, "--"); !ok {
		return ""
	}
	return id
}
