package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Decoders of the client. A pull is only as fast as the slower of server and
// client, and on a small machine they share the cores: the scanner lets the
// figures show the server, encoding/json shows what a typical Go client sees.
const (
	DecoderScan = "scan"          // strict single-pass JSON scanner, no copies (default)
	DecoderStd  = "encoding/json" // json.Unmarshal into []json.RawMessage
)

// maxDepth bounds nesting, as encoding/json does (10000).
const maxDepth = 10000

// decodeEnvelope parses a TAXII envelope with the named decoder and calls obj
// for each element of its objects array. Either way the whole page is checked to
// be one well-formed JSON object (RFC 8259).
func (r *reader) decodeEnvelope(b []byte, obj func([]byte) error) (more bool, next string, n int, err error) {
	if r.c.decoder == DecoderStd {
		r.env.More, r.env.Next, r.env.Objects = false, "", r.env.Objects[:0]
		if err := json.Unmarshal(b, &r.env); err != nil {
			return false, "", 0, err
		}
		for _, o := range r.env.Objects {
			if err := obj(o); err != nil {
				return false, "", 0, err
			}
		}
		return r.env.More, r.env.Next, len(r.env.Objects), nil
	}
	return scanEnvelope(b, obj)
}

// scanEnvelope is the scanner decoder: it validates b as a JSON object, reads its
// "more" (a boolean) and "next" (a string) members, and calls obj with the bytes
// of each element of its "objects" array, which alias b.
func scanEnvelope(b []byte, obj func([]byte) error) (more bool, next string, n int, err error) {
	if !utf8.Valid(b) {
		return false, "", 0, errors.New("the envelope is not valid UTF-8")
	}
	s := scanner{b: b}
	s.ws()
	if !s.eat('{') {
		return false, "", 0, s.fail("want an object")
	}
	s.ws()
	if !s.eat('}') {
		for {
			key, esc, err := s.str()
			if err != nil {
				return false, "", 0, err
			}
			if esc { // rare: let encoding/json undo the escapes
				var k string
				if err := json.Unmarshal(s.b[s.i-len(key)-2:s.i], &k); err != nil {
					return false, "", 0, err
				}
				key = []byte(k)
			}
			s.ws()
			if !s.eat(':') {
				return false, "", 0, s.fail("want ':'")
			}
			s.ws()
			switch {
			case string(key) == "objects" && s.peek() == '[':
				n = 0
				s.i++
				s.ws()
				if !s.eat(']') {
					for {
						start := s.i
						if err := s.value(1); err != nil {
							return false, "", 0, err
						}
						n++
						if err := obj(b[start:s.i]); err != nil {
							return false, "", 0, err
						}
						s.ws()
						if s.eat(']') {
							break
						}
						if !s.eat(',') {
							return false, "", 0, s.fail("want ',' or ']'")
						}
						s.ws()
					}
				}
			case string(key) == "more" && (s.peek() == 't' || s.peek() == 'f'):
				more = s.peek() == 't'
				if err := s.value(1); err != nil {
					return false, "", 0, err
				}
			case string(key) == "next" && s.peek() == '"':
				v, vesc, err := s.str()
				if err != nil {
					return false, "", 0, err
				}
				next = string(v)
				if vesc { // rare: let encoding/json undo the escapes
					if err := json.Unmarshal(s.b[s.i-len(v)-2:s.i], &next); err != nil {
						return false, "", 0, err
					}
				}
			default:
				if err := s.value(1); err != nil {
					return false, "", 0, err
				}
			}
			s.ws()
			if s.eat('}') {
				break
			}
			if !s.eat(',') {
				return false, "", 0, s.fail("want ',' or '}'")
			}
			s.ws()
		}
	}
	s.ws()
	if s.i != len(b) {
		return false, "", 0, s.fail("data after the envelope")
	}
	return more, next, n, nil
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) fail(what string) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", s.i, what)
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one JSON value at depth.
func (s *scanner) value(depth int) error {
	if depth > maxDepth {
		return s.fail("nested too deep")
	}
	switch c := s.peek(); {
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '{':
		s.i++
		s.ws()
		if s.eat('}') {
			return nil
		}
		for {
			if _, _, err := s.str(); err != nil {
				return err
			}
			s.ws()
			if !s.eat(':') {
				return s.fail("want ':'")
			}
			s.ws()
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.eat('}') {
				return nil
			}
			if !s.eat(',') {
				return s.fail("want ',' or '}'")
			}
			s.ws()
		}
	case c == '[':
		s.i++
		s.ws()
		if s.eat(']') {
			return nil
		}
		for {
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.eat(']') {
				return nil
			}
			if !s.eat(',') {
				return s.fail("want ',' or ']'")
			}
			s.ws()
		}
	case c == 't':
		return s.word("true")
	case c == 'f':
		return s.word("false")
	case c == 'n':
		return s.word("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	}
	return s.fail("want a value")
}

func (s *scanner) word(w string) error {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return s.fail("want " + w)
	}
	s.i += len(w)
	return nil
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *scanner) number() error {
	s.eat('-')
	switch {
	case s.eat('0'):
	case s.digits() == 0:
		return s.fail("want a digit")
	}
	if s.eat('.') && s.digits() == 0 {
		return s.fail("want a digit after '.'")
	}
	if s.eat('e') || s.eat('E') {
		if !s.eat('+') {
			s.eat('-')
		}
		if s.digits() == 0 {
			return s.fail("want an exponent")
		}
	}
	return nil
}

// str scans a string and returns its raw contents (between the quotes) and
// whether it holds escapes.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	if !s.eat('"') {
		return nil, false, s.fail("want a string")
	}
	start := s.i
	for s.i < len(s.b) {
		// Most of a page is plain string bytes: skip them one table lookup each.
		for s.i < len(s.b) && plainInString[s.b[s.i]] {
			s.i++
		}
		if s.i == len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], escaped, nil
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return nil, false, s.fail("unterminated escape")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || !isHex4(s.b[s.i+2:s.i+6]) {
					return nil, false, s.fail("bad \\u escape")
				}
				s.i += 6
			default:
				return nil, false, s.fail("bad escape")
			}
		case c < 0x20:
			return nil, false, s.fail("control character in a string")
		default:
			s.i++
		}
	}
	return nil, false, s.fail("unterminated string")
}

// plainInString[c] says byte c stands for itself inside a JSON string: not a
// quote, a backslash or a control character.
var plainInString = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
