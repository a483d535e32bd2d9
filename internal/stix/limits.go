package stix

// Limits bound what one object may cost to read and validate. Zero fields
// take the defaults; values above the ceilings are lowered to them.
type Limits struct {
	MaxObjectSize int // bytes of one object as received
	MaxDepth      int // nesting of JSON objects and arrays inside one object
	MaxProperties int // members of any one JSON object
}

// Defaults and ceilings of Limits. Real STIX objects are a few KiB, nest less
// than 10 levels and rarely have more than a few hundred keys in one
// dictionary; the defaults leave ample room and still bound memory per object.
const (
	DefaultMaxObjectSize = 10 << 20
	DefaultMaxDepth      = 64
	DefaultMaxProperties = 10_000

	CeilingMaxObjectSize = 256 << 20
	CeilingMaxDepth      = 1_000
	CeilingMaxProperties = 1 << 20
)

// DefaultLimits returns the limits used when none are given.
func DefaultLimits() Limits {
	return Limits{}.normalized()
}

func (l Limits) normalized() Limits {
	l.MaxObjectSize = clampLimit(l.MaxObjectSize, DefaultMaxObjectSize, CeilingMaxObjectSize)
	l.MaxDepth = clampLimit(l.MaxDepth, DefaultMaxDepth, CeilingMaxDepth)
	l.MaxProperties = clampLimit(l.MaxProperties, DefaultMaxProperties, CeilingMaxProperties)
	return l
}

func clampLimit(v, def, ceiling int) int {
	if v <= 0 {
		return def
	}
	return min(v, ceiling)
}
