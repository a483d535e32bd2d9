package stix

import "strings"

// hashHexLengths maps a normalized hash algorithm name (upper case, no '-')
// to the hex lengths it allows; it mirrors the reference pattern validator.
var hashHexLengths = map[string][]int{
	"MD5":       {32},
	"MD6":       {32, 40, 56, 64, 96, 128},
	"RIPEMD160": {40},
	"SHA1":      {40},
	"SHA224":    {56},
	"SHA256":    {64},
	"SHA384":    {96},
	"SHA512":    {128},
	"SHA3224":   {56},
	"SHA3256":   {64},
	"SHA3384":   {96},
	"SHA3512":   {128},
	"WHIRLPOOL": {128},
}

// checkHashes rejects equality tests on a known hash algorithm whose value
// cannot be such a hash. Only =, != and IN are checked: LIKE and MATCHES
// legitimately take partial values.
func checkHashes(e ObservationExpr) *PatternError {
	switch n := e.(type) {
	case *Observation:
		return checkComparisonHashes(n.Comparison)
	case *ObservationGroup:
		return checkHashes(n.Expr)
	case *ObservationOp:
		for _, o := range n.Operands {
			if err := checkHashes(o); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkComparisonHashes(c ComparisonExpr) *PatternError {
	switch n := c.(type) {
	case *ComparisonOp:
		for _, o := range n.Operands {
			if err := checkComparisonHashes(o); err != nil {
				return err
			}
		}
	case *Comparison:
		switch n.Operator {
		case "=", "!=", "IN":
		default:
			return nil
		}
		algo, ok := hashAlgorithm(n.Path)
		if !ok {
			return nil
		}
		for _, v := range n.Values {
			if !validHash(algo, v) {
				return newPatternError(v.Offset, "%s is not a valid %s hash", shortText(v.Text), n.Path.Steps[len(n.Path.Steps)-1].Key)
			}
		}
	}
	return nil
}

// hashAlgorithm returns the normalized algorithm when the path goes through a
// "hashes" property and ends with a key naming an algorithm.
func hashAlgorithm(p ObjectPath) (string, bool) {
	if len(p.Steps) < 2 {
		return "", false
	}
	last := p.Steps[len(p.Steps)-1]
	if !last.IsKey {
		return "", false
	}
	through := false
	for _, s := range p.Steps[:len(p.Steps)-1] {
		if s.IsKey && s.Key == "hashes" {
			through = true
			break
		}
	}
	if !through {
		return "", false
	}
	algo := strings.ToUpper(strings.ReplaceAll(last.Key, "-", ""))
	if algo == "SSDEEP" {
		return algo, true
	}
	_, known := hashHexLengths[algo]
	return algo, known
}

func validHash(algo string, v Literal) bool {
	if v.Kind != LiteralString {
		return false
	}
	s := v.Value
	if algo == "SSDEEP" {
		if len(s) < 1 || len(s) > 128 {
			return false
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(isIdentPart(c) && c != '_' || c == '/' || c == '+' || c == ':' || c == '.') {
				return false
			}
		}
		return true
	}
	lengthOK := false
	for _, n := range hashHexLengths[algo] {
		if len(s) == n {
			lengthOK = true
		}
	}
	if !lengthOK {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}
