package store

import (
	"encoding/json"
	"time"
)

// How both stores keep a few values in columns, written once so that the two
// cannot drift.

// JSONList is list as JSON array text, "[]" when empty.
func JSONList(list []string) string {
	if len(list) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(list) // strings always encode
	return string(b)
}

// MicrosOrZero is t in µs since the Unix epoch, 0 for the zero time ("never").
func MicrosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// TimeOrZero reads MicrosOrZero back: 0 is the zero time, anything else UTC.
func TimeOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
