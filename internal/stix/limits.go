package stix

import "math"

// Limits bound what one object may cost to read and validate. The caller passes
// them (the server and the CLI pass the configuration's, which owns their
// defaults and ceilings); a zero or negative field means no limit on that count.
type Limits struct {
	MaxObjectSize int // bytes of one object as received
	MaxDepth      int // nesting of JSON objects and arrays inside one object
	MaxProperties int // members of any one JSON object
}

// normalized turns "no limit" into a bound no input reaches.
func (l Limits) normalized() Limits {
	l.MaxObjectSize = orUnlimited(l.MaxObjectSize)
	l.MaxDepth = orUnlimited(l.MaxDepth)
	l.MaxProperties = orUnlimited(l.MaxProperties)
	return l
}

func orUnlimited(v int) int {
	if v <= 0 {
		return math.MaxInt
	}
	return v
}
