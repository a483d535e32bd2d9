package stix

import (
	"fmt"
	"strings"
)

// Pattern is a parsed STIX 2.1 pattern (specification section 9).
type Pattern struct {
	Root ObservationExpr
}

// ObservationExpr is one of *Observation, *ObservationGroup or *ObservationOp.
type ObservationExpr interface{ observationExpr() }

// Observation is a bracketed comparison expression with its qualifiers.
type Observation struct {
	Comparison ComparisonExpr
	Qualifiers []Qualifier
}

// ObservationGroup is a parenthesized observation expression with its qualifiers.
type ObservationGroup struct {
	Expr       ObservationExpr
	Qualifiers []Qualifier
}

// ObservationOp joins two or more observation expressions with one operator
// ("AND", "OR" or "FOLLOWEDBY"), left to right.
type ObservationOp struct {
	Op       string
	Operands []ObservationExpr
}

func (*Observation) observationExpr()      {}
func (*ObservationGroup) observationExpr() {}
func (*ObservationOp) observationExpr()    {}

// QualifierKind tells which qualifier a Qualifier is.
type QualifierKind uint8

// Qualifier kinds.
const (
	QualifierWithin QualifierKind = iota + 1
	QualifierRepeats
	QualifierStartStop
)

func (k QualifierKind) String() string {
	switch k {
	case QualifierWithin:
		return "WITHIN"
	case QualifierRepeats:
		return "REPEATS"
	case QualifierStartStop:
		return "START/STOP"
	}
	return "?"
}

// Qualifier is WITHIN n SECONDS, REPEATS n TIMES or START t'..' STOP t'..'.
// Value holds the number as written (WITHIN, REPEATS); Start and Stop the
// timestamps as written between the quotes of t'...'.
type Qualifier struct {
	Kind        QualifierKind
	Value       string
	Start, Stop string
	Offset      int
}

// ComparisonExpr is one of *ComparisonOp or *Comparison.
type ComparisonExpr interface{ comparisonExpr() }

// ComparisonOp joins two or more comparisons with "AND" or "OR".
type ComparisonOp struct {
	Op       string
	Operands []ComparisonExpr
}

// Comparison tests one object path. Operator is "=", "!=", "<", "<=", ">",
// ">=", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET" or "EXISTS"; Values
// has one literal, the members of an IN set, or none for EXISTS.
type Comparison struct {
	Path     ObjectPath
	Negated  bool
	Operator string
	Values   []Literal
	Offset   int
}

func (*ComparisonOp) comparisonExpr() {}
func (*Comparison) comparisonExpr()   {}

// ObjectPath is object-type:property.path[index].
type ObjectPath struct {
	ObjectType string
	Steps      []PathStep
}

// PathStep is a property name (Key), a list index (Index) or any index (Any).
type PathStep struct {
	Key   string
	Index int
	IsKey bool
	Any   bool
}

// LiteralKind tells which literal a Literal is.
type LiteralKind uint8

// Literal kinds.
const (
	LiteralString LiteralKind = iota + 1
	LiteralInt
	LiteralFloat
	LiteralBool
	LiteralHex
	LiteralBinary
	LiteralTimestamp
)

// Literal is a constant in a comparison. Text is the token as written; Value
// is the decoded content for strings and the quoted body for hex, binary and
// timestamp literals, and equals Text otherwise.
type Literal struct {
	Kind   LiteralKind
	Text   string
	Value  string
	Offset int
}

// PatternError is a syntax or semantic error in a pattern.
type PatternError struct {
	Offset int // byte offset in the pattern
	Msg    string
}

func newPatternError(at int, format string, args ...any) *PatternError {
	return &PatternError{Offset: at, Msg: fmt.Sprintf(format, args...)}
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("%s at offset %d", e.Msg, e.Offset)
}

// ParsePattern parses a STIX 2.1 pattern and applies the semantic checks of
// the reference validator (no repeated qualifier on one observation, hash
// values that fit their algorithm). Errors are *PatternError.
func ParsePattern(s string) (*Pattern, error) {
	p := parser{lex: lexer{src: s}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	root, err := p.observationExprs()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.unexpected("end of pattern")
	}
	if err := checkHashes(root); err != nil {
		return nil, err
	}
	return &Pattern{Root: root}, nil
}

type parser struct {
	lex   lexer
	tok   token
	depth int // open parentheses and brackets
}

// maxPatternNesting bounds parentheses so that a hostile pattern cannot
// recurse the parser deeply; real patterns nest a handful of levels.
const maxPatternNesting = 100

func (p *parser) open() *PatternError {
	p.depth++
	if p.depth > maxPatternNesting {
		return newPatternError(p.tok.start, "nested deeper than %d levels", maxPatternNesting)
	}
	return nil
}

func (p *parser) advance() *PatternError {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) text() string { return p.lex.src[p.tok.start:p.tok.end] }

func (p *parser) unexpected(want string) *PatternError {
	if p.tok.kind == tEOF {
		return newPatternError(p.tok.start, "expected %s but the pattern ended", want)
	}
	got := p.text()
	if len(got) > 40 {
		got = got[:40] + "..."
	}
	hint := ""
	if (p.tok.kind == tIdent || p.tok.kind == tBool) && keywords[strings.ToUpper(got)] != 0 {
		hint = " (keywords are upper-case: " + strings.ToUpper(got) + ")"
	}
	return newPatternError(p.tok.start, "expected %s, found %q%s", want, got, hint)
}

func (p *parser) expect(k tokKind, want string) *PatternError {
	if p.tok.kind != k {
		return p.unexpected(want)
	}
	return p.advance()
}

// observationExprs: observationExpressionOr (FOLLOWEDBY observationExpressionOr)*
func (p *parser) observationExprs() (ObservationExpr, *PatternError) {
	return p.observationChain(tFOLLOWEDBY, "FOLLOWEDBY", p.observationOr)
}

func (p *parser) observationOr() (ObservationExpr, *PatternError) {
	return p.observationChain(tOR, "OR", p.observationAnd)
}

func (p *parser) observationAnd() (ObservationExpr, *PatternError) {
	return p.observationChain(tAND, "AND", p.observation)
}

func (p *parser) observationChain(op tokKind, name string, operand func() (ObservationExpr, *PatternError)) (ObservationExpr, *PatternError) {
	return chain(p, op, operand, func(ops []ObservationExpr) ObservationExpr { return &ObservationOp{Op: name, Operands: ops} })
}

// chain parses operand (op operand)*: the operand alone, or the node join makes of all of them.
func chain[E any](p *parser, op tokKind, operand func() (E, *PatternError), join func([]E) E) (E, *PatternError) {
	var zero E
	first, err := operand()
	if err != nil {
		return zero, err
	}
	if p.tok.kind != op {
		return first, nil
	}
	operands := []E{first}
	for p.tok.kind == op {
		if err := p.advance(); err != nil {
			return zero, err
		}
		next, err := operand()
		if err != nil {
			return zero, err
		}
		operands = append(operands, next)
	}
	return join(operands), nil
}

// observation: '[' comparisonExpression ']' qualifier* | '(' observationExpressions ')' qualifier*
func (p *parser) observation() (ObservationExpr, *PatternError) {
	var quals *[]Qualifier
	var node ObservationExpr
	simple := false
	switch p.tok.kind {
	case tLBrack:
		if err := p.open(); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		c, err := p.comparisonOr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tRBrack, "']'"); err != nil {
			return nil, err
		}
		p.depth--
		o := &Observation{Comparison: c}
		node, quals, simple = o, &o.Qualifiers, true
	case tLParen:
		if err := p.open(); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.observationExprs()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tRParen, "')'"); err != nil {
			return nil, err
		}
		p.depth--
		g := &ObservationGroup{Expr: e}
		node, quals = g, &g.Qualifiers
	default:
		if p.tok.start == 0 && p.tok.kind != tEOF {
			return nil, newPatternError(0, "a pattern must start with '[' or '(': observation expressions are enclosed in square brackets")
		}
		return nil, p.unexpected("'[' or '('")
	}
	for {
		var q Qualifier
		var err *PatternError
		switch p.tok.kind {
		case tWITHIN:
			q, err = p.within()
		case tREPEATS:
			q, err = p.repeats()
		case tSTART:
			q, err = p.startStop()
		default:
			return node, nil
		}
		if err != nil {
			return nil, err
		}
		// As in the reference validator: one qualifier of each kind directly on
		// a bracketed observation; a parenthesized group may stack them.
		if simple {
			for _, prev := range *quals {
				if prev.Kind == q.Kind {
					return nil, newPatternError(q.Offset, "duplicate %s qualifier on one observation", q.Kind)
				}
			}
		}
		*quals = append(*quals, q)
	}
}

func (p *parser) within() (Qualifier, *PatternError) {
	q := Qualifier{Kind: QualifierWithin, Offset: p.tok.start}
	if err := p.advance(); err != nil {
		return q, err
	}
	if p.tok.kind != tIntPos && p.tok.kind != tFloatPos {
		return q, p.unexpected("a positive number of seconds after WITHIN")
	}
	q.Value = p.text()
	if err := p.advance(); err != nil {
		return q, err
	}
	return q, p.expect(tSECONDS, "SECONDS")
}

func (p *parser) repeats() (Qualifier, *PatternError) {
	q := Qualifier{Kind: QualifierRepeats, Offset: p.tok.start}
	if err := p.advance(); err != nil {
		return q, err
	}
	if p.tok.kind != tIntPos {
		return q, p.unexpected("a positive integer after REPEATS")
	}
	q.Value = p.text()
	if err := p.advance(); err != nil {
		return q, err
	}
	return q, p.expect(tTIMES, "TIMES")
}

func (p *parser) startStop() (Qualifier, *PatternError) {
	q := Qualifier{Kind: QualifierStartStop, Offset: p.tok.start}
	if err := p.advance(); err != nil {
		return q, err
	}
	if p.tok.kind != tTimestamp {
		return q, p.unexpected("a timestamp t'...' after START")
	}
	q.Start = p.text()[2 : p.tok.end-p.tok.start-1]
	if err := p.advance(); err != nil {
		return q, err
	}
	if err := p.expect(tSTOP, "STOP"); err != nil {
		return q, err
	}
	if p.tok.kind != tTimestamp {
		return q, p.unexpected("a timestamp t'...' after STOP")
	}
	q.Stop = p.text()[2 : p.tok.end-p.tok.start-1]
	return q, p.advance()
}

func (p *parser) comparisonOr() (ComparisonExpr, *PatternError) {
	return p.comparisonChain(tOR, "OR", p.comparisonAnd)
}

func (p *parser) comparisonAnd() (ComparisonExpr, *PatternError) {
	return p.comparisonChain(tAND, "AND", p.propTest)
}

func (p *parser) comparisonChain(op tokKind, name string, operand func() (ComparisonExpr, *PatternError)) (ComparisonExpr, *PatternError) {
	return chain(p, op, operand, func(ops []ComparisonExpr) ComparisonExpr { return &ComparisonOp{Op: name, Operands: ops} })
}

func (p *parser) propTest() (ComparisonExpr, *PatternError) {
	start := p.tok.start
	switch p.tok.kind {
	case tLParen:
		if err := p.open(); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		c, err := p.comparisonOr()
		if err != nil {
			return nil, err
		}
		p.depth--
		return c, p.expect(tRParen, "')'")
	case tNOT, tEXISTS:
		c := &Comparison{Operator: "EXISTS", Offset: start}
		if p.tok.kind == tNOT {
			c.Negated = true
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		if err := p.expect(tEXISTS, "EXISTS"); err != nil {
			return nil, err
		}
		path, err := p.objectPath()
		if err != nil {
			return nil, err
		}
		c.Path = path
		return c, nil
	}
	path, err := p.objectPath()
	if err != nil {
		return nil, err
	}
	c := &Comparison{Path: path, Offset: start}
	if p.tok.kind == tNOT {
		c.Negated = true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	opTok := p.tok
	c.Operator = p.text()
	switch opTok.kind {
	case tEQ, tNEQ:
		if opTok.kind == tEQ {
			c.Operator = "="
		} else {
			c.Operator = "!="
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		lit, err := p.literal(true)
		if err != nil {
			return nil, err
		}
		c.Values = []Literal{lit}
	case tLT, tLE, tGT, tGE:
		if err := p.advance(); err != nil {
			return nil, err
		}
		lit, err := p.literal(false)
		if err != nil {
			return nil, err
		}
		c.Values = []Literal{lit}
	case tIN:
		if err := p.advance(); err != nil {
			return nil, err
		}
		set, err := p.setLiteral()
		if err != nil {
			return nil, err
		}
		c.Values = set
	case tLIKE, tMATCHES, tISSUBSET, tISSUPERSET:
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tString {
			return nil, p.unexpected("a string after " + c.Operator)
		}
		c.Values = []Literal{p.makeLiteral()}
		if err := p.advance(); err != nil {
			return nil, err
		}
	default:
		return nil, p.unexpected("a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET)")
	}
	return c, nil
}

func (p *parser) objectPath() (ObjectPath, *PatternError) {
	var path ObjectPath
	if p.tok.kind != tIdent && p.tok.kind != tIdentHyphen {
		return path, p.unexpected("an object type (e.g. file:name)")
	}
	path.ObjectType = p.text()
	if err := p.advance(); err != nil {
		return path, err
	}
	if err := p.expect(tColon, "':' after the object type"); err != nil {
		return path, err
	}
	switch p.tok.kind {
	case tIdent:
		path.Steps = append(path.Steps, PathStep{Key: p.text(), IsKey: true})
	case tString:
		path.Steps = append(path.Steps, PathStep{Key: unquote(p.text()), IsKey: true})
	default:
		return path, p.unexpected("a property name (quote names with hyphens: 'name-with-hyphens')")
	}
	if err := p.advance(); err != nil {
		return path, err
	}
	for {
		switch p.tok.kind {
		case tDot:
			if err := p.advance(); err != nil {
				return path, err
			}
			switch p.tok.kind {
			case tIdent:
				path.Steps = append(path.Steps, PathStep{Key: p.text(), IsKey: true})
			case tString:
				path.Steps = append(path.Steps, PathStep{Key: unquote(p.text()), IsKey: true})
			default:
				return path, p.unexpected("a property name after '.' (quote names with hyphens)")
			}
		case tLBrack:
			if err := p.advance(); err != nil {
				return path, err
			}
			switch p.tok.kind {
			case tStar:
				path.Steps = append(path.Steps, PathStep{Any: true})
			case tIntPos, tIntNeg:
				path.Steps = append(path.Steps, PathStep{Index: atoiSigned(p.text())})
			default:
				return path, p.unexpected("a list index or '*'")
			}
			if err := p.advance(); err != nil {
				return path, err
			}
			if p.tok.kind != tRBrack {
				return path, p.unexpected("']'")
			}
		default:
			return path, nil
		}
		if err := p.advance(); err != nil {
			return path, err
		}
	}
}

func (p *parser) setLiteral() ([]Literal, *PatternError) {
	if err := p.expect(tLParen, "'(' after IN"); err != nil {
		return nil, err
	}
	var set []Literal
	if p.tok.kind == tRParen {
		return set, p.advance()
	}
	for {
		lit, err := p.literal(true)
		if err != nil {
			return nil, err
		}
		set = append(set, lit)
		switch p.tok.kind {
		case tComma:
			if err := p.advance(); err != nil {
				return nil, err
			}
		case tRParen:
			return set, p.advance()
		default:
			return nil, p.unexpected("',' or ')'")
		}
	}
}

// literal parses a primitive literal (bool allowed) or an orderable one.
func (p *parser) literal(allowBool bool) (Literal, *PatternError) {
	switch p.tok.kind {
	case tString, tIntPos, tIntNeg, tFloatPos, tFloatNeg, tHex, tBinary, tTimestamp:
	case tBool:
		if !allowBool {
			return Literal{}, p.unexpected("an orderable value (number, string, binary, hex or timestamp)")
		}
	default:
		return Literal{}, p.unexpected("a value (e.g. 'text', 42, t'2020-01-01T00:00:00Z')")
	}
	lit := p.makeLiteral()
	return lit, p.advance()
}

func (p *parser) makeLiteral() Literal {
	text := p.text()
	lit := Literal{Text: text, Value: text, Offset: p.tok.start}
	switch p.tok.kind {
	case tString:
		lit.Kind, lit.Value = LiteralString, unquote(text)
	case tIntPos, tIntNeg:
		lit.Kind = LiteralInt
	case tFloatPos, tFloatNeg:
		lit.Kind = LiteralFloat
	case tBool:
		lit.Kind = LiteralBool
	case tHex:
		lit.Kind, lit.Value = LiteralHex, text[2:len(text)-1]
	case tBinary:
		lit.Kind, lit.Value = LiteralBinary, text[2:len(text)-1]
	case tTimestamp:
		lit.Kind, lit.Value = LiteralTimestamp, text[2:len(text)-1]
	}
	return lit
}

// unquote decodes a string token ('...' with \' and \\ escapes).
func unquote(tok string) string {
	body := tok[1 : len(tok)-1]
	if !strings.Contains(body, `\`) {
		return body
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) {
			i++
		}
		b.WriteByte(body[i])
	}
	return b.String()
}

func atoiSigned(s string) int {
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if n > 1<<30 {
			break // absurd index; keep it large rather than overflow
		}
		n = n*10 + int(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}
