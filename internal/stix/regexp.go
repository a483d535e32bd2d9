package stix

import (
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The schemas apply a few regular expressions to every property of every
// object; with bounded repetitions such as {0,245} Go's regexp engine spends
// more time on them than on everything else. regexpEngine gives those exact
// patterns hand-written matchers with the same meaning (regexp_test.go checks
// them against regexp) and compiles all others with regexp. Matchers are
// pointers: the library keys maps by Regexp.

type fastRegexp struct {
	src   string
	match func(string) bool
}

func (f *fastRegexp) MatchString(s string) bool { return f.match(s) }
func (f *fastRegexp) String() string            { return f.src }

var fastPatterns = map[string]func(string) bool{
	// properties.json: custom property names. The alternation is unanchored
	// on each side: "starts with 3 name characters" or "ends with id".
	`^([a-z][a-z0-9_]{2,249})|id$`: func(s string) bool {
		return len(s) >= 3 && isLower(s[0]) && isNameChar(s[1]) && isNameChar(s[2]) || strings.HasSuffix(s, "id")
	},
	`^[a-z][a-z0-9_]{0,245}_bin$`: func(s string) bool { return suffixedName(s, "_bin") },
	`^[a-z][a-z0-9_]{0,245}_hex$`: func(s string) bool { return suffixedName(s, "_hex") },
	// identifier.json
	`^[a-z][a-z0-9-]+[a-z0-9]--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`: func(s string) bool {
		if len(s) < 3+2+36 || s[len(s)-38:len(s)-36] != "--" || !schemaUUID(s[len(s)-36:]) {
			return false
		}
		t := s[:len(s)-38]
		if !isLower(t[0]) || !(isLower(t[len(t)-1]) || isDigit(t[len(t)-1])) {
			return false
		}
		for i := 1; i < len(t)-1; i++ {
			if c := t[i]; !(isLower(c) || isDigit(c) || c == '-') {
				return false
			}
		}
		return true
	},
	// timestamp.json
	`^[0-9]{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)(\.[0-9]+)?Z$`: timestampShapeOK,
	// core.json: created and modified to the millisecond.
	`T\d{2}:\d{2}:\d{2}\.\d{3,}Z$`: func(s string) bool {
		if !strings.HasSuffix(s, "Z") {
			return false
		}
		i := len(s) - 1
		for i > 0 && isDigit(s[i-1]) {
			i--
		}
		dot := i - 1
		if len(s)-1-i < 3 || dot < 9 || s[dot] != '.' {
			return false
		}
		t := s[dot-9 : dot]
		return t[0] == 'T' && isDigit(t[1]) && isDigit(t[2]) && t[3] == ':' && isDigit(t[4]) && isDigit(t[5]) &&
			t[6] == ':' && isDigit(t[7]) && isDigit(t[8])
	},
	// core.json and cyber-observable-core.json: type names.
	`^([a-z][a-z0-9]*)+(-[a-z0-9]+)*\-?$`: func(s string) bool { return typeName(s, true) },
	// binary.json and hex.json: payloads can be megabytes, so they are
	// matched here rather than under the length guard below.
	`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$`: validBase64,
	`^([a-fA-F0-9]{2})+$`: func(s string) bool {
		if len(s) == 0 || len(s)%2 != 0 {
			return false
		}
		for i := 0; i < len(s); i++ {
			if !isHexDigit(s[i]) {
				return false
			}
		}
		return true
	},
}

// maxPatternInput is the longest value other schema patterns are run on.
// They describe names, versions, CPEs, language tags and the like; on
// megabyte values some of them cost seconds of CPU, so a longer value simply
// does not match.
const maxPatternInput = 64 << 10

type guardedRegexp struct{ re *regexp.Regexp }

func (g *guardedRegexp) MatchString(s string) bool {
	return len(s) <= maxPatternInput && g.re.MatchString(s)
}

func (g *guardedRegexp) String() string { return g.re.String() }

func regexpEngine(src string) (jsonschema.Regexp, error) {
	if f, ok := fastPatterns[src]; ok {
		return &fastRegexp{src: src, match: f}, nil
	}
	if lit, ok := strings.CutPrefix(src, "^"); ok && isPlainLiteral(lit) {
		// ^indicator-- and friends: the id prefix of each type.
		return &fastRegexp{src: src, match: func(s string) bool { return strings.HasPrefix(s, lit) }}, nil
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, err
	}
	return &guardedRegexp{re: re}, nil
}

func isPlainLiteral(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isLower(c) || isDigit(c) || c == '-') {
			return false
		}
	}
	return true
}

func isLower(c byte) bool    { return 'a' <= c && c <= 'z' }
func isNameChar(c byte) bool { return isLower(c) || isDigit(c) || c == '_' }

// suffixedName matches ^[a-z][a-z0-9_]{0,245}<suffix>$.
func suffixedName(s, suffix string) bool {
	if !strings.HasSuffix(s, suffix) || len(s) < 1+len(suffix) || len(s) > 1+245+len(suffix) || !isLower(s[0]) {
		return false
	}
	for i := 1; i < len(s)-len(suffix); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

// ValidTypeName reports whether s is a STIX 2.1 type name: 3 to 250 characters,
// the rule of core.json (a lower-case letter first, then letters, digits and single hyphens).
func ValidTypeName(s string) bool {
	return len(s) >= 3 && len(s) <= 250 && typeName(s, false)
}

// typeName matches ^[a-z][a-z0-9]*(-[a-z0-9]+)*-?$ (the trailing hyphen only
// when trailingHyphen), which is what ^([a-z][a-z0-9]*)+(-[a-z0-9]+)*\-?$ means.
func typeName(s string, trailingHyphen bool) bool {
	if s == "" || !isLower(s[0]) {
		return false
	}
	if trailingHyphen && len(s) > 1 && s[len(s)-1] == '-' {
		s = s[:len(s)-1]
	}
	prevHyphen := false
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-':
			if prevHyphen {
				return false
			}
			prevHyphen = true
		case isLower(c) || isDigit(c):
			prevHyphen = false
		default:
			return false
		}
	}
	return !prevHyphen
}

// schemaUUID matches the UUID of identifier.json: version 1-5, RFC 4122 variant.
func schemaUUID(u string) bool {
	return uuidShape(u) && u[14] >= '1' && u[14] <= '5' && strings.IndexByte("89abAB", u[19]) >= 0
}
