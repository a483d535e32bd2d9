package stix

import "strings"

// String prints the pattern in a canonical form that ParsePattern reads
// back to the same tree: single spaces, literals as written, parentheses
// only where the tree has a group or precedence needs them.
func (p *Pattern) String() string {
	var b strings.Builder
	writeObservation(&b, p.Root)
	return b.String()
}

func writeObservation(b *strings.Builder, e ObservationExpr) {
	switch n := e.(type) {
	case *Observation:
		b.WriteByte('[')
		writeComparison(b, n.Comparison, false)
		b.WriteByte(']')
		writeQualifiers(b, n.Qualifiers)
	case *ObservationGroup:
		b.WriteByte('(')
		writeObservation(b, n.Expr)
		b.WriteByte(')')
		writeQualifiers(b, n.Qualifiers)
	case *ObservationOp:
		for i, o := range n.Operands {
			if i > 0 {
				b.WriteString(" " + n.Op + " ")
			}
			writeObservation(b, o)
		}
	}
}

func writeQualifiers(b *strings.Builder, qs []Qualifier) {
	for _, q := range qs {
		switch q.Kind {
		case QualifierWithin:
			b.WriteString(" WITHIN " + q.Value + " SECONDS")
		case QualifierRepeats:
			b.WriteString(" REPEATS " + q.Value + " TIMES")
		case QualifierStartStop:
			b.WriteString(" START t'" + q.Start + "' STOP t'" + q.Stop + "'")
		}
	}
}

// writeComparison prints c; nested operator nodes are parenthesized, since
// the parser only builds them from parentheses or precedence.
func writeComparison(b *strings.Builder, c ComparisonExpr, nested bool) {
	switch n := c.(type) {
	case *ComparisonOp:
		if nested {
			b.WriteByte('(')
		}
		for i, o := range n.Operands {
			if i > 0 {
				b.WriteString(" " + n.Op + " ")
			}
			writeComparison(b, o, true)
		}
		if nested {
			b.WriteByte(')')
		}
	case *Comparison:
		if n.Operator == "EXISTS" {
			if n.Negated {
				b.WriteString("NOT ")
			}
			b.WriteString("EXISTS ")
			writePath(b, n.Path)
			return
		}
		writePath(b, n.Path)
		if n.Negated {
			b.WriteString(" NOT")
		}
		b.WriteString(" " + n.Operator + " ")
		if n.Operator == "IN" {
			b.WriteByte('(')
			for i, v := range n.Values {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(v.Text)
			}
			b.WriteByte(')')
			return
		}
		b.WriteString(n.Values[0].Text)
	}
}

func writePath(b *strings.Builder, p ObjectPath) {
	b.WriteString(p.ObjectType)
	for i, s := range p.Steps {
		switch {
		case s.Any:
			b.WriteString("[*]")
		case !s.IsKey:
			b.WriteString("[" + itoa(s.Index) + "]")
		default:
			if i == 0 {
				b.WriteByte(':')
			} else {
				b.WriteByte('.')
			}
			if plainName(s.Key) {
				b.WriteString(s.Key)
			} else {
				b.WriteString(quotePattern(s.Key))
			}
		}
	}
}

// plainName reports whether a property name can be written unquoted.
func plainName(s string) bool {
	if s == "" || !isIdentStart(s[0]) || keywords[s] != 0 || s == "true" || s == "false" {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentPart(s[i]) {
			return false
		}
	}
	// t'..', h'..' and b'..' cannot follow, but a lone t/h/b is fine.
	return true
}

func quotePattern(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
