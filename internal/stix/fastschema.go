package stix

import (
	"encoding/json"
	"math/big"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The schema library builds scopes, annotation sets and error values for
// every keyword it visits, even on the success path; on a typical indicator
// that is hundreds of allocations and most of the validation time. Valid
// objects are the common case, so Validate first asks this allocation-free
// yes/no evaluator, which walks the same compiled schemas, and calls the
// library only when the answer is not a clear yes: the library always has the
// last word on rejection and writes the error.
//
// The evaluator answers yes, no or unknown, and only "yes" skips the library.
// Unknown covers what it does not model (unevaluated*, dynamic refs,
// content*, draft-7 dependencies, vocabulary extensions, non-string enum
// values, runaway reference cycles); negations (not, if, oneOf) propagate it,
// so it never turns into a wrong "yes". fastschema_test.go and FuzzValidate
// compare both on real and mutated objects.

type jsonKind uint8

const (
	kNull jsonKind = 1 << iota
	kBool
	kNumber
	kInteger
	kString
	kArray
	kObject
)

type patternNode struct {
	re   jsonschema.Regexp
	node *fastNode
}

type tri uint8

const (
	no tri = iota
	yes
	unknown
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

type fastNode struct {
	always      bool // the true schema
	never       bool // the false schema
	unsupported bool // keywords the evaluator does not model

	exclusiveRef bool // drafts before 2019: $ref overrides siblings
	ref          *fastNode
	types        jsonKind // 0: any
	enum         []any
	konst        *any
	format       func(any) error

	not                *fastNode
	allOf, anyOf       []*fastNode
	oneOf              []*fastNode
	ifN, thenN, elseN  *fastNode
	minProps, maxProps int // -1: none
	required           []string
	props              map[string]*fastNode
	patProps           []patternNode
	addlFalse          bool
	addl               *fastNode
	propNames          *fastNode
	depRequired        map[string][]string
	depSchemas         map[string]*fastNode

	minItems, maxItems       int // -1: none
	unique                   bool
	prefix                   []*fastNode
	items                    *fastNode
	addlItemsFalse           bool
	addlItems                *fastNode
	contains                 *fastNode
	minContains, maxContains int // -1: none

	minLen, maxLen int // -1: none
	pattern        jsonschema.Regexp

	minimum, maximum, exMin, exMax, multipleOf *big.Rat
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// buildFast converts a compiled schema (and everything it references) into
// evaluator nodes; memo resolves reference cycles.
func buildFast(s *jsonschema.Schema, memo map[*jsonschema.Schema]*fastNode) *fastNode {
	if s == nil {
		return nil
	}
	if n, ok := memo[s]; ok {
		return n
	}
	n := &fastNode{}
	memo[s] = n
	if s.Bool != nil {
		n.always, n.never = *s.Bool, !*s.Bool
		return n
	}
	if s.RecursiveRef != nil || s.DynamicRef != nil || s.UnevaluatedProperties != nil || s.UnevaluatedItems != nil ||
		s.ContentEncoding != nil || s.ContentMediaType != nil || s.ContentSchema != nil || len(s.Extensions) > 0 ||
		len(s.Dependencies) > 0 {
		n.unsupported = true
		return n
	}
	n.exclusiveRef = s.DraftVersion < 2019
	n.ref = buildFast(s.Ref, memo)
	if s.Types != nil {
		for _, t := range s.Types.ToStrings() {
			n.types |= map[string]jsonKind{"null": kNull, "boolean": kBool, "number": kNumber, "integer": kInteger,
				"string": kString, "array": kArray, "object": kObject}[t]
		}
	}
	if s.Enum != nil {
		n.enum = s.Enum.Values
	}
	n.konst = s.Const
	if s.Format != nil {
		n.format = s.Format.Validate
	}
	n.not = buildFast(s.Not, memo)
	for _, sub := range s.AllOf {
		n.allOf = append(n.allOf, buildFast(sub, memo))
	}
	for _, sub := range s.AnyOf {
		n.anyOf = append(n.anyOf, buildFast(sub, memo))
	}
	for _, sub := range s.OneOf {
		n.oneOf = append(n.oneOf, buildFast(sub, memo))
	}
	n.ifN, n.thenN, n.elseN = buildFast(s.If, memo), buildFast(s.Then, memo), buildFast(s.Else, memo)

	n.minProps, n.maxProps = intOr(s.MinProperties, -1), intOr(s.MaxProperties, -1)
	n.required = s.Required
	if len(s.Properties) > 0 {
		n.props = make(map[string]*fastNode, len(s.Properties))
		for k, sub := range s.Properties {
			n.props[k] = buildFast(sub, memo)
		}
	}
	for re, sub := range s.PatternProperties {
		n.patProps = append(n.patProps, patternNode{re: re, node: buildFast(sub, memo)})
	}
	switch a := s.AdditionalProperties.(type) {
	case bool:
		n.addlFalse = !a
	case *jsonschema.Schema:
		n.addl = buildFast(a, memo)
	}
	n.propNames = buildFast(s.PropertyNames, memo)
	n.depRequired = s.DependentRequired
	if len(s.DependentSchemas) > 0 {
		n.depSchemas = map[string]*fastNode{}
		for k, sub := range s.DependentSchemas {
			n.depSchemas[k] = buildFast(sub, memo)
		}
	}

	n.minItems, n.maxItems = intOr(s.MinItems, -1), intOr(s.MaxItems, -1)
	n.unique = s.UniqueItems
	if s.DraftVersion < 2020 {
		switch it := s.Items.(type) {
		case *jsonschema.Schema:
			n.items = buildFast(it, memo)
		case []*jsonschema.Schema:
			for _, sub := range it {
				n.prefix = append(n.prefix, buildFast(sub, memo))
			}
			switch a := s.AdditionalItems.(type) {
			case bool:
				n.addlItemsFalse = !a
			case *jsonschema.Schema:
				n.addlItems = buildFast(a, memo)
			}
		}
	} else {
		for _, sub := range s.PrefixItems {
			n.prefix = append(n.prefix, buildFast(sub, memo))
		}
		n.items = buildFast(s.Items2020, memo)
	}
	n.contains = buildFast(s.Contains, memo)
	n.minContains, n.maxContains = intOr(s.MinContains, -1), intOr(s.MaxContains, -1)

	n.minLen, n.maxLen = intOr(s.MinLength, -1), intOr(s.MaxLength, -1)
	n.pattern = s.Pattern
	n.minimum, n.maximum, n.exMin, n.exMax, n.multipleOf = s.Minimum, s.Maximum, s.ExclusiveMinimum, s.ExclusiveMaximum, s.MultipleOf
	return n
}

// maxFastDepth bounds recursion (reference cycles that consume no input);
// past it the answer is unknown and the library decides.
const maxFastDepth = 200

// eval tells whether v satisfies n: yes, no, or unknown.
func (n *fastNode) eval(v any, depth int) tri {
	switch {
	case n == nil || n.always:
		return yes
	case n.never:
		return no
	case n.unsupported || depth > maxFastDepth:
		return unknown
	}
	depth++
	if n.types != 0 && !typeMatches(n.types, v) {
		return no
	}
	if n.konst != nil {
		if r := equalTri(v, *n.konst); r != yes {
			return r
		}
	}
	if n.enum != nil {
		r := no
		for _, e := range n.enum {
			switch equalTri(v, e) {
			case yes:
				r = yes
			case unknown:
				r = unknown
			}
			if r == yes {
				break
			}
		}
		if r != yes {
			return r
		}
	}
	if n.format != nil && n.format(v) != nil {
		return no
	}
	if n.ref != nil {
		r := n.ref.eval(v, depth)
		if r != yes || n.exclusiveRef {
			return r
		}
	}
	var r tri
	switch x := v.(type) {
	case map[string]any:
		r = n.evalObject(x, depth)
	case []any:
		r = n.evalArray(x, depth)
	case string:
		r = n.evalString(x)
	case json.Number:
		r = n.evalNumber(x)
	default:
		r = yes
	}
	if r != yes {
		return r
	}
	if n.not != nil {
		switch n.not.eval(v, depth) {
		case yes:
			return no
		case unknown:
			return unknown
		}
	}
	for _, sub := range n.allOf {
		if r := sub.eval(v, depth); r != yes {
			return r
		}
	}
	if len(n.anyOf) > 0 {
		r := no
		for _, sub := range n.anyOf {
			switch sub.eval(v, depth) {
			case yes:
				r = yes
			case unknown:
				r = unknown
			}
			if r == yes {
				break
			}
		}
		if r != yes {
			return r
		}
	}
	if len(n.oneOf) > 0 {
		yeses, unknowns := 0, 0
		for _, sub := range n.oneOf {
			switch sub.eval(v, depth) {
			case yes:
				yeses++
			case unknown:
				unknowns++
			}
		}
		switch {
		case yeses > 1:
			return no
		case unknowns > 0:
			return unknown
		case yeses == 0:
			return no
		}
	}
	if n.ifN != nil {
		then := func() tri { return n.thenN.eval(v, depth) }
		els := func() tri { return n.elseN.eval(v, depth) }
		switch n.ifN.eval(v, depth) {
		case yes:
			return then()
		case no:
			return els()
		default:
			if then() == yes && els() == yes {
				return yes
			}
			return unknown
		}
	}
	return yes
}

func (n *fastNode) evalString(x string) tri {
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := utf8.RuneCountInString(x)
		if n.minLen >= 0 && l < n.minLen || n.maxLen >= 0 && l > n.maxLen {
			return no
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(x) {
		return no
	}
	return yes
}

func (n *fastNode) evalObject(obj map[string]any, depth int) tri {
	if n.minProps >= 0 && len(obj) < n.minProps || n.maxProps >= 0 && len(obj) > n.maxProps {
		return no
	}
	for _, r := range n.required {
		if _, ok := obj[r]; !ok {
			return no
		}
	}
	for k, val := range obj {
		evaluated := false
		if sub, ok := n.props[k]; ok {
			evaluated = true
			if r := sub.eval(val, depth); r != yes {
				return r
			}
		}
		for _, pp := range n.patProps {
			if pp.re.MatchString(k) {
				evaluated = true
				if r := pp.node.eval(val, depth); r != yes {
					return r
				}
			}
		}
		if !evaluated {
			if n.addlFalse {
				return no
			}
			if n.addl != nil {
				if r := n.addl.eval(val, depth); r != yes {
					return r
				}
			}
		}
		if n.propNames != nil {
			if r := n.propNames.eval(k, depth); r != yes {
				return r
			}
		}
	}
	for k, sub := range n.depSchemas {
		if _, ok := obj[k]; ok {
			if r := sub.eval(obj, depth); r != yes {
				return r
			}
		}
	}
	for k, reqs := range n.depRequired {
		if _, ok := obj[k]; ok {
			for _, req := range reqs {
				if _, ok := obj[req]; !ok {
					return no
				}
			}
		}
	}
	return yes
}

func (n *fastNode) evalArray(arr []any, depth int) tri {
	if n.minItems >= 0 && len(arr) < n.minItems || n.maxItems >= 0 && len(arr) > n.maxItems {
		return no
	}
	if n.unique && len(arr) > 1 {
		for i := 1; i < len(arr); i++ {
			for j := 0; j < i; j++ {
				switch equalTri(arr[i], arr[j]) {
				case yes:
					return no
				case unknown:
					return unknown
				}
			}
		}
	}
	for i, item := range arr {
		var r tri
		switch {
		case i < len(n.prefix):
			r = n.prefix[i].eval(item, depth)
		case n.addlItemsFalse:
			r = no
		case n.addlItems != nil:
			r = n.addlItems.eval(item, depth)
		case n.items != nil:
			r = n.items.eval(item, depth)
		default:
			r = yes
		}
		if r != yes {
			return r
		}
	}
	if n.contains != nil {
		yeses, unknowns := 0, 0
		for _, item := range arr {
			switch n.contains.eval(item, depth) {
			case yes:
				yeses++
			case unknown:
				unknowns++
			}
		}
		least := max(n.minContains, 1)
		if n.minContains == 0 {
			least = 0
		}
		switch {
		case yeses < least && yeses+unknowns >= least:
			return unknown
		case yeses < least:
			return no
		}
		if n.maxContains >= 0 {
			switch {
			case yeses > n.maxContains:
				return no
			case yeses+unknowns > n.maxContains:
				return unknown
			}
		}
	}
	return yes
}

func (n *fastNode) evalNumber(num json.Number) tri {
	if n.minimum == nil && n.maximum == nil && n.exMin == nil && n.exMax == nil && n.multipleOf == nil {
		return yes
	}
	r, ok := new(big.Rat).SetString(string(num))
	if !ok {
		return unknown
	}
	switch {
	case n.minimum != nil && r.Cmp(n.minimum) < 0,
		n.maximum != nil && r.Cmp(n.maximum) > 0,
		n.exMin != nil && r.Cmp(n.exMin) <= 0,
		n.exMax != nil && r.Cmp(n.exMax) >= 0:
		return no
	}
	if n.multipleOf != nil && !new(big.Rat).Quo(r, n.multipleOf).IsInt() {
		return no
	}
	return yes
}

func typeMatches(types jsonKind, v any) bool {
	switch x := v.(type) {
	case nil:
		return types&kNull != 0
	case bool:
		return types&kBool != 0
	case string:
		return types&kString != 0
	case []any:
		return types&kArray != 0
	case map[string]any:
		return types&kObject != 0
	case json.Number:
		if types&kNumber != 0 {
			return true
		}
		return types&kInteger != 0 && isIntegral(x)
	}
	return false
}

// isIntegral matches the library's integer test (a rational with no
// fractional part, so 1.0 and 1e3 count).
func isIntegral(num json.Number) bool {
	s := string(num)
	plain := len(s) > 0
	for i := 0; i < len(s); i++ {
		if !(isDigit(s[i]) || i == 0 && s[i] == '-') {
			plain = false
			break
		}
	}
	if plain {
		return true
	}
	r, ok := new(big.Rat).SetString(s)
	return ok && r.IsInt()
}

// equalTri compares JSON values as the library does, exactly for strings,
// booleans and null (what the STIX schemas use in enum and const) and for
// values of different JSON types; equal-looking numbers and compound values
// are left unknown.
func equalTri(v, want any) tri {
	switch w := want.(type) {
	case string:
		s, ok := v.(string)
		return triOf(ok && s == w)
	case bool:
		b, ok := v.(bool)
		return triOf(ok && b == w)
	case nil:
		return triOf(v == nil)
	}
	if typeMatches(kindOf(want), v) {
		return unknown
	}
	return no
}

func kindOf(v any) jsonKind {
	switch v.(type) {
	case nil:
		return kNull
	case bool:
		return kBool
	case string:
		return kString
	case []any:
		return kArray
	case map[string]any:
		return kObject
	}
	return kNumber
}
