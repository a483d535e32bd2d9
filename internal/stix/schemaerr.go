package stix

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaReason turns a schema validation error into one JSON pointer and a
// reason a person can act on: the most specific failure, in STIX words.
func schemaReason(err error) (path, reason string) {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return "", err.Error()
	}
	leaf := bestLeaf(ve)
	path = pointer(leaf.InstanceLocation)
	switch k := leaf.ErrorKind.(type) {
	case *kind.Required:
		return path + "/" + escapePointer(pointerSegment(k.Missing[0])), fmt.Sprintf("required property %s is missing", k.Missing[0])
	case *kind.AnyOf:
		if alts := requiredAlternatives(leaf); alts != nil {
			return path, fmt.Sprintf("at least one of the properties %s is required", strings.Join(alts, ", "))
		}
	case *kind.OneOf:
		if strings.Contains(leaf.SchemaURL, "granular-marking.json") {
			found := "neither"
			if len(k.Subschemas) > 1 {
				found = "both"
			}
			return path, fmt.Sprintf("a granular marking has exactly one of lang and marking_ref (STIX 2.1 section 7.2.3); this one has %s", found)
		}
		if alts := requiredAlternatives(leaf); alts != nil {
			return path, fmt.Sprintf("exactly one of the properties %s is required", strings.Join(alts, ", "))
		}
	case *kind.AdditionalProperties:
		p := path + "/" + escapePointer(pointerSegment(k.Properties[0]))
		if strings.Contains(leaf.SchemaURL, "common/properties.json") {
			return p, fmt.Sprintf("property name %s is not allowed: property names are 3 to 250 characters of a-z, 0-9 and _, starting with a letter", quoteShort(k.Properties[0]))
		}
		return p, fmt.Sprintf("property %s is not allowed here", quoteShort(k.Properties[0]))
	case *kind.Format:
		if k.Err != nil && (k.Want == fmtTimestamp || k.Want == fmtIPv6 || k.Want == "idn-hostname") {
			return path, k.Err.Error()
		}
		return path, fmt.Sprintf("%s is not a valid %s", display(k.Got), k.Want)
	case *kind.Pattern:
		return path, patternReason(leaf, k)
	case *kind.Not:
		if strings.HasSuffix(leaf.SchemaURL, "core.json#/not") {
			return path, "the property names severity, action, username and phone_numbers are reserved by STIX and must not be used"
		}
	case *kind.FalseSchema:
		if n := len(leaf.InstanceLocation); n > 0 {
			name := leaf.InstanceLocation[n-1]
			switch name {
			case "severity", "action", "username", "phone_numbers":
				if n == 1 {
					return path, fmt.Sprintf("the property name %s is reserved by STIX and must not be used", name)
				}
			}
			return path, fmt.Sprintf("property %s is not allowed here", name)
		}
	}
	return path, leaf.ErrorKind.LocalizedString(message.NewPrinter(language.English))
}

// bestLeaf picks the deepest concrete failure (longest instance path, then
// the smallest path, so the choice does not depend on map order), skipping
// the combinator wrappers.
func bestLeaf(ve *jsonschema.ValidationError) *jsonschema.ValidationError {
	var best *jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 || requiredAlternatives(e) != nil {
			switch {
			case best == nil || len(e.InstanceLocation) > len(best.InstanceLocation):
				best = e
			case len(e.InstanceLocation) == len(best.InstanceLocation):
				if p, q := pointer(e.InstanceLocation), pointer(best.InstanceLocation); p < q || p == q && e.SchemaURL < best.SchemaURL {
					best = e
				}
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	if best == nil {
		return ve
	}
	return best
}

// requiredAlternatives returns the property names of an anyOf whose
// branches all failed for a missing property (file: hashes or name; ...).
func requiredAlternatives(e *jsonschema.ValidationError) []string {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
	default:
		return nil
	}
	if len(e.Causes) < 2 {
		return nil
	}
	var names []string
	for _, c := range e.Causes {
		r, ok := c.ErrorKind.(*kind.Required)
		if !ok || len(c.Causes) > 0 || len(r.Missing) != 1 {
			return nil
		}
		names = append(names, r.Missing[0])
	}
	return names
}

func patternReason(leaf *jsonschema.ValidationError, k *kind.Pattern) string {
	url := leaf.SchemaURL
	switch {
	case len(k.Got) > maxPatternInput && !strings.Contains(url, "common/binary.json") && !strings.Contains(url, "common/hex.json"):
		return fmt.Sprintf("a value of %d bytes is too long here (at most %d)", len(k.Got), maxPatternInput)
	case strings.Contains(url, "common/timestamp.json"):
		if _, err := parseTimestamp(k.Got); err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%s is not a STIX timestamp (%s, UTC)", quoteShort(k.Got), timestampShape)
	case strings.Contains(url, "common/identifier.json"):
		return identifierReason(k.Got)
	case strings.Contains(k.Want, `\.\d{3,}Z$`):
		return fmt.Sprintf("%s must be precise to the millisecond at least (e.g. 2016-05-12T08:17:27.000Z)", quoteShort(k.Got))
	case strings.Contains(url, "hashes-type.json") && len(leaf.InstanceLocation) > 0:
		return fmt.Sprintf("%s is not a valid %s hash", quoteShort(k.Got), leaf.InstanceLocation[len(leaf.InstanceLocation)-1])
	case strings.Contains(url, "common/binary.json"):
		return fmt.Sprintf("%s is not padded base64 (properties ending in _bin hold binary data)", quoteShort(k.Got))
	case strings.Contains(url, "common/hex.json"):
		return fmt.Sprintf("%s is not an even number of hex digits (properties ending in _hex hold hex data)", quoteShort(k.Got))
	}
	return fmt.Sprintf("%s does not match the pattern %s", quoteShort(k.Got), k.Want)
}

func pointer(loc []string) string {
	var b strings.Builder
	for _, s := range loc {
		b.WriteByte('/')
		b.WriteString(escapePointer(pointerSegment(s)))
	}
	return b.String()
}

// pointerSegment cuts absurdly long keys so that a path stays printable;
// real property names are at most 250 characters.
func pointerSegment(s string) string {
	if len(s) <= 256 {
		return s
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// display shows a JSON value briefly in a message.
func display(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// identifierReason says what is wrong in a value the identifier pattern
// refused: the type part, the UUID's form, its version or its variant.
func identifierReason(id string) string {
	typ, uuid, ok := strings.Cut(id, "--")
	const want = "type--UUID, an RFC 4122 UUID of version 1 to 5"
	switch {
	case !ok || typ == "":
		return fmt.Sprintf("%s is not a STIX identifier (%s)", quoteShort(id), want)
	case !uuidShape(uuid):
		return fmt.Sprintf("%s: %s is not a UUID (8-4-4-4-12 hex digits)", quoteShort(id), quoteShort(uuid))
	case uuid[14] < '1' || uuid[14] > '5':
		return fmt.Sprintf("%s: the UUID's version digit (the first of its third group) is %c; STIX identifiers use UUID versions 1 to 5 (4 for random ones)", quoteShort(id), uuid[14])
	case strings.IndexByte("89abAB", uuid[19]) < 0:
		return fmt.Sprintf("%s: the UUID's variant digit (the first of its fourth group) is %c; STIX identifiers use RFC 4122 UUIDs, whose variant digit is 8, 9, a or b", quoteShort(id), uuid[19])
	}
	return fmt.Sprintf("%s is not a STIX identifier: the type part %s must be lower-case letters, digits and hyphens (%s)", quoteShort(id), quoteShort(typ), want)
}
