package stix

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file turns one object's raw JSON into the generic form the schema
// validator walks (map[string]any, []any, string, json.Number, bool, nil).
// encoding/json would do, but it silently keeps the last of duplicate keys and
// replaces invalid UTF-8; both can make two readers see different objects, so
// they are errors here. It is also several times faster.

// jsonError is a JSON-level problem; path is filled while unwinding (reversed).
type jsonError struct {
	offset int
	msg    string
	rule   bool     // valid JSON that breaks a rule of this package (numbers), not a syntax error
	path   []string // innermost first
}

func (e *jsonError) pointer() string {
	var b strings.Builder
	for i := len(e.path) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(escapePointer(pointerSegment(e.path[i])))
	}
	return b.String()
}

func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

type jsonParser struct {
	data     []byte
	pos      int
	depth    int
	maxDepth int
	maxProps int
	names    map[string]string // interned property names; may be nil
}

// parseJSON parses exactly one JSON value (surrounded by optional whitespace).
func parseJSON(data []byte, lim Limits) (any, *jsonError) {
	return parseJSONNames(data, lim, nil)
}

// parseJSONNames is parseJSON sharing the strings of known property names
// instead of allocating one per key.
func parseJSONNames(data []byte, lim Limits, names map[string]string) (any, *jsonError) {
	p := jsonParser{data: data, maxDepth: lim.MaxDepth, maxProps: lim.MaxProperties, names: names}
	p.skipWS()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.pos != len(p.data) {
		return nil, p.fail("unexpected %s after the JSON value", p.describe())
	}
	return v, nil
}

func (p *jsonParser) fail(format string, args ...any) *jsonError {
	return &jsonError{offset: p.pos, msg: fmt.Sprintf(format, args...)}
}

// describe names what is at the current position, for error messages.
func (p *jsonParser) describe() string {
	if p.pos >= len(p.data) {
		return "end of input"
	}
	c := p.data[p.pos]
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("character %q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (p *jsonParser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (any, *jsonError) {
	if p.pos >= len(p.data) {
		return nil, p.fail("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		return p.literal("null", nil)
	}
	return nil, p.fail("unexpected %s, expected a JSON value", p.describe())
}

func (p *jsonParser) literal(word string, v any) (any, *jsonError) {
	if len(p.data)-p.pos >= len(word) && string(p.data[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return v, nil
	}
	return nil, p.fail("invalid literal, expected %s", word)
}

func (p *jsonParser) enter() *jsonError {
	p.depth++
	if p.maxDepth > 0 && p.depth > p.maxDepth {
		return p.fail("nesting deeper than %d levels", p.maxDepth)
	}
	return nil
}

func (p *jsonParser) object() (any, *jsonError) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // {
	hint := 8
	if p.depth == 1 {
		hint = 24 // a STIX object's own properties
	}
	m := make(map[string]any, hint)
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return m, nil
	}
	for {
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.fail("unexpected %s, expected a property name", p.describe())
		}
		keyAt := p.pos
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		if _, dup := m[key]; dup {
			return nil, &jsonError{offset: keyAt, msg: "duplicate property " + quoteShort(key), path: []string{key}}
		}
		if p.maxProps > 0 && len(m) >= p.maxProps {
			return nil, &jsonError{offset: keyAt, msg: fmt.Sprintf("more than %d properties in one object", p.maxProps)}
		}
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.fail("unexpected %s, expected ':'", p.describe())
		}
		p.pos++
		p.skipWS()
		v, err := p.value()
		if err != nil {
			err.path = append(err.path, key)
			return nil, err
		}
		m[key] = v
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.fail("unexpected end of input, expected ',' or '}'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.depth--
			return m, nil
		default:
			return nil, p.fail("unexpected %s, expected ',' or '}'", p.describe())
		}
	}
}

func (p *jsonParser) array() (any, *jsonError) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // [
	a := make([]any, 0, 4)
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return a, nil
	}
	for {
		p.skipWS()
		v, err := p.value()
		if err != nil {
			err.path = append(err.path, strconv.Itoa(len(a)))
			return nil, err
		}
		a = append(a, v)
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.fail("unexpected end of input, expected ',' or ']'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			return a, nil
		default:
			return nil, p.fail("unexpected %s, expected ',' or ']'", p.describe())
		}
	}
}

func (p *jsonParser) number() (any, *jsonError) {
	start := p.pos
	d := p.data
	i := p.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		p.pos = i
		return nil, p.fail("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			p.pos = i
			return nil, p.fail("invalid number: digit expected after '.'")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			p.pos = i
			return nil, p.fail("invalid number: digit expected in exponent")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if reason := numberRule(d[start:i]); reason != "" {
		p.pos = start
		e := p.fail("%s", reason)
		e.rule = true
		return nil, e
	}
	p.pos = i
	return json.Number(d[start:i]), nil
}

// MaxNumberDigits is the most digits a JSON number may have.
const MaxNumberDigits = 100

// numberRule refuses, in a syntactically valid JSON number, what common
// clients cannot read: Python's json and Go's encoding/json fail on a
// number beyond the range of a double (and so on every page holding it),
// and very long numbers cost memory and time in every reader. The rule: a
// finite IEEE-754 double, at most MaxNumberDigits digits in all.
func numberRule(lit []byte) string {
	digits, exp := 0, false
	for _, c := range lit {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == 'e' || c == 'E':
			exp = true
		}
	}
	if digits > MaxNumberDigits {
		return fmt.Sprintf("a number of %d digits; numbers have at most %d digits (and are finite IEEE-754 doubles)", digits, MaxNumberDigits)
	}
	// Without an exponent, 100 digits stay below 1e101, far inside a double.
	if exp {
		if _, err := strconv.ParseFloat(string(lit), 64); err != nil {
			return fmt.Sprintf("the number %s is beyond the range of an IEEE-754 double; numbers must be finite doubles (at most about 1.8e308)", lit)
		}
	}
	return ""
}

// key parses a property name, reusing the interned string when known.
func (p *jsonParser) key() (string, *jsonError) {
	if p.names != nil {
		d := p.data
		for i := p.pos + 1; i < len(d) && i-p.pos < 64; i++ {
			c := d[i]
			if c == '"' {
				if s, ok := p.names[string(d[p.pos+1:i])]; ok {
					p.pos = i + 1
					return s, nil
				}
				break
			}
			if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				break
			}
		}
	}
	k, err := p.str()
	if err != nil {
		return "", err
	}
	return k.(string), nil
}

// str parses a JSON string at p.pos (which holds '"').
func (p *jsonParser) str() (any, *jsonError) {
	d := p.data
	i := p.pos + 1
	start := i
	// Fast path: no escapes.
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return string(d[start:i]), nil
		case c == '\\':
			return p.strSlow(start, i)
		case c < 0x20:
			p.pos = i
			return nil, p.fail("control character 0x%02x in a string (must be escaped)", c)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size == 1 {
				p.pos = i
				return nil, p.fail("invalid UTF-8 in a string")
			}
			i += size
		}
	}
	p.pos = i
	return nil, p.fail("unexpected end of input in a string")
}

func (p *jsonParser) strSlow(start, i int) (any, *jsonError) {
	d := p.data
	b := make([]byte, 0, i-start+16)
	b = append(b, d[start:i]...)
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return string(b), nil
		case c == '\\':
			if i+1 >= len(d) {
				p.pos = i + 1
				return nil, p.fail("unexpected end of input in a string")
			}
			e := d[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(d, i)
				if !ok {
					p.pos = i
					return nil, p.fail("invalid \\u escape")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(0), false
					if i+1 < len(d) && d[i] == '\\' && d[i+1] == 'u' {
						r2, ok2 = hex4(d, i+2)
					}
					dec := utf16.DecodeRune(r, r2)
					if !ok2 || dec == utf8.RuneError {
						p.pos = i
						return nil, p.fail("invalid \\u escape: unpaired surrogate")
					}
					i += 6
					r = dec
				}
				b = utf8.AppendRune(b, r)
			default:
				p.pos = i - 1
				return nil, p.fail("invalid escape '\\%c' in a string", e)
			}
		case c < 0x20:
			p.pos = i
			return nil, p.fail("control character 0x%02x in a string (must be escaped)", c)
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size == 1 {
				p.pos = i
				return nil, p.fail("invalid UTF-8 in a string")
			}
			b = append(b, d[i:i+size]...)
			i += size
		}
	}
	p.pos = i
	return nil, p.fail("unexpected end of input in a string")
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
