package stix

import (
	"unicode/utf8"
)

// Lexer for the STIX 2.1 patterning language (specification section 9,
// grammar STIXPattern.g4). Tokens that no parser rule accepts (QUOTE, '+',
// '-', '^', '/' and any other character) are reported as errors right away.

type tokKind uint8

const (
	tEOF tokKind = iota
	tLBrack
	tRBrack
	tLParen
	tRParen
	tColon
	tDot
	tComma
	tStar
	tEQ
	tNEQ
	tLT
	tLE
	tGT
	tGE
	tIdent       // [a-zA-Z_][a-zA-Z0-9_]*
	tIdentHyphen // [a-zA-Z_][a-zA-Z0-9_-]* with at least one '-'
	tString
	tIntPos
	tIntNeg
	tFloatPos
	tFloatNeg
	tHex
	tBinary
	tTimestamp
	tBool
	// keywords (case-sensitive)
	tAND
	tOR
	tNOT
	tFOLLOWEDBY
	tLIKE
	tMATCHES
	tISSUPERSET
	tISSUBSET
	tEXISTS
	tLAST
	tIN
	tSTART
	tSTOP
	tSECONDS
	tWITHIN
	tREPEATS
	tTIMES
)

var keywords = map[string]tokKind{
	"AND": tAND, "OR": tOR, "NOT": tNOT, "FOLLOWEDBY": tFOLLOWEDBY, "LIKE": tLIKE,
	"MATCHES": tMATCHES, "ISSUPERSET": tISSUPERSET, "ISSUBSET": tISSUBSET,
	"EXISTS": tEXISTS, "LAST": tLAST, "IN": tIN, "START": tSTART, "STOP": tSTOP,
	"SECONDS": tSECONDS, "WITHIN": tWITHIN, "REPEATS": tREPEATS, "TIMES": tTIMES,
}

type token struct {
	kind  tokKind
	start int
	end   int
}

type lexer struct {
	src string
	pos int
}

func (l *lexer) errorf(at int, format string, args ...any) *PatternError {
	return newPatternError(at, format, args...)
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || '0' <= c && c <= '9'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isBase64(c byte) bool {
	return isIdentPart(c) && c != '_' || c == '+' || c == '/'
}

// skip passes whitespace (the grammar's WS set, including Unicode spaces) and comments.
func (l *lexer) skip() *PatternError {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f':
			l.pos++
		case c == '/' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '*':
			end := indexFrom(l.src, "*/", l.pos+2)
			if end < 0 {
				return l.errorf(l.pos, "unterminated comment")
			}
			l.pos = end + 2
		case c == '/' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '/':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' && l.src[l.pos] != '\r' {
				l.pos++
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(l.src[l.pos:])
			if !isPatternSpace(r) {
				return nil
			}
			l.pos += size
		default:
			return nil
		}
	}
	return nil
}

func isPatternSpace(r rune) bool {
	switch r {
	case 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

func indexFrom(s, sub string, from int) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// next returns the next token.
func (l *lexer) next() (token, *PatternError) {
	if err := l.skip(); err != nil {
		return token{}, err
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tEOF, start: start, end: start}, nil
	}
	s := l.src
	c := s[start]
	one := func(k tokKind) (token, *PatternError) {
		l.pos++
		return token{kind: k, start: start, end: l.pos}, nil
	}
	two := func(k tokKind) (token, *PatternError) {
		l.pos += 2
		return token{kind: k, start: start, end: l.pos}, nil
	}
	peek := byte(0)
	if start+1 < len(s) {
		peek = s[start+1]
	}
	switch c {
	case '[':
		return one(tLBrack)
	case ']':
		return one(tRBrack)
	case '(':
		return one(tLParen)
	case ')':
		return one(tRParen)
	case ':':
		return one(tColon)
	case ',':
		return one(tComma)
	case '*':
		return one(tStar)
	case '=':
		if peek == '=' {
			return two(tEQ)
		}
		return one(tEQ)
	case '!':
		if peek == '=' {
			return two(tNEQ)
		}
	case '<':
		switch peek {
		case '=':
			return two(tLE)
		case '>':
			return two(tNEQ)
		}
		return one(tLT)
	case '>':
		if peek == '=' {
			return two(tGE)
		}
		return one(tGT)
	case '\'':
		return l.stringLit(start, start, tString)
	case '.':
		if isDigit(peek) {
			return l.number(start, start, false)
		}
		return one(tDot)
	case '+', '-':
		if isDigit(peek) || peek == '.' && start+2 < len(s) && isDigit(s[start+2]) {
			return l.number(start, start+1, c == '-')
		}
	case 't':
		if peek == '\'' {
			return l.timestampLit(start)
		}
	case 'h':
		if peek == '\'' {
			return l.hexLit(start)
		}
	case 'b':
		if peek == '\'' {
			return l.binaryLit(start)
		}
	}
	switch {
	case isDigit(c):
		return l.number(start, start, false)
	case isIdentStart(c):
		return l.ident(start)
	}
	if c >= utf8.RuneSelf {
		r, _ := utf8.DecodeRuneInString(s[start:])
		return token{}, l.errorf(start, "unexpected character %q", r)
	}
	return token{}, l.errorf(start, "unexpected character %q", c)
}

func (l *lexer) ident(start int) (token, *PatternError) {
	s := l.src
	i := start + 1
	hyphen := false
	for i < len(s) && (isIdentPart(s[i]) || s[i] == '-') {
		if s[i] == '-' {
			hyphen = true
		}
		i++
	}
	l.pos = i
	if hyphen {
		return token{kind: tIdentHyphen, start: start, end: i}, nil
	}
	word := s[start:i]
	if k, ok := keywords[word]; ok {
		return token{kind: k, start: start, end: i}, nil
	}
	if word == "true" || word == "false" {
		return token{kind: tBool, start: start, end: i}, nil
	}
	return token{kind: tIdent, start: start, end: i}, nil
}

// number lexes IntPos/IntNeg/FloatPos/FloatNeg; digits starts after any sign.
func (l *lexer) number(start, digits int, neg bool) (token, *PatternError) {
	s := l.src
	i := digits
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		l.pos = i
		if neg {
			return token{kind: tFloatNeg, start: start, end: i}, nil
		}
		return token{kind: tFloatPos, start: start, end: i}, nil
	}
	if i-digits > 1 && s[digits] == '0' {
		return token{}, l.errorf(start, "invalid integer %s: leading zero", quoteShort(s[start:i]))
	}
	l.pos = i
	if neg {
		return token{kind: tIntNeg, start: start, end: i}, nil
	}
	return token{kind: tIntPos, start: start, end: i}, nil
}

// stringLit lexes '...' where the only escapes are \' and \\. quote is the
// offset of the opening quote (after a t/h/b prefix, if any).
func (l *lexer) stringLit(start, quote int, kind tokKind) (token, *PatternError) {
	s := l.src
	i := quote + 1
	for i < len(s) {
		switch s[i] {
		case '\'':
			l.pos = i + 1
			return token{kind: kind, start: start, end: i + 1}, nil
		case '\\':
			if i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '\\') {
				i += 2
				continue
			}
			return token{}, l.errorf(i, `invalid escape in string: only \' and \\ are allowed`)
		default:
			i++
		}
	}
	return token{}, l.errorf(start, "unterminated string")
}

func (l *lexer) quoted(start int) (body string, end int, err *PatternError) {
	s := l.src
	i := start + 2
	for i < len(s) && s[i] != '\'' {
		i++
	}
	if i >= len(s) {
		return "", 0, l.errorf(start, "unterminated %s literal", literalName(s[start]))
	}
	return s[start+2 : i], i + 1, nil
}

func literalName(prefix byte) string {
	switch prefix {
	case 't':
		return "timestamp"
	case 'h':
		return "hex"
	}
	return "binary"
}

func (l *lexer) timestampLit(start int) (token, *PatternError) {
	body, end, err := l.quoted(start)
	if err != nil {
		return token{}, err
	}
	if !timestampShapeOK(body) {
		return token{}, l.errorf(start, "invalid timestamp literal t%s: want t'%s'", quoteShort(body), timestampShape)
	}
	l.pos = end
	return token{kind: tTimestamp, start: start, end: end}, nil
}

func (l *lexer) hexLit(start int) (token, *PatternError) {
	body, end, err := l.quoted(start)
	if err != nil {
		return token{}, err
	}
	if len(body)%2 != 0 {
		return token{}, l.errorf(start, "invalid hex literal h%s: odd number of digits", quoteShort(body))
	}
	for i := 0; i < len(body); i++ {
		if !isHexDigit(body[i]) {
			return token{}, l.errorf(start, "invalid hex literal h%s: %q is not a hex digit", quoteShort(body), body[i])
		}
	}
	l.pos = end
	return token{kind: tHex, start: start, end: end}, nil
}

func (l *lexer) binaryLit(start int) (token, *PatternError) {
	body, end, err := l.quoted(start)
	if err != nil {
		return token{}, err
	}
	if !validBase64(body) {
		return token{}, l.errorf(start, "invalid binary literal b%s: not padded base64", quoteShort(body))
	}
	l.pos = end
	return token{kind: tBinary, start: start, end: end}, nil
}

// validBase64 checks padded, non-empty base64 (RFC 4648 alphabet).
func validBase64(s string) bool {
	if len(s) == 0 || len(s)%4 != 0 {
		return false
	}
	pad := 0
	switch {
	case s[len(s)-2:] == "==":
		pad = 2
	case s[len(s)-1] == '=':
		pad = 1
	}
	for i := 0; i < len(s)-pad; i++ {
		if !isBase64(s[i]) {
			return false
		}
	}
	return true
}
