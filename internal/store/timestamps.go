package store

import (
	"fmt"
	"strings"
	"time"
)

// versionLayout sorts lexically in time order, so stores can compare versions as text.
const versionLayout = "2006-01-02T15:04:05.000000000Z"

// DateAddedLayout is how date_added is shown: microseconds and Z, as TAXII headers want.
const DateAddedLayout = "2006-01-02T15:04:05.000000Z"

// ParseTimestamp parses an RFC 3339 timestamp with 0 to 9 fractional digits.
// STIX and TAXII timestamps are UTC; an offset is accepted and converted.
func ParseTimestamp(s string) (time.Time, error) {
	if len(s) < 20 || len(s) > 40 {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.ContainsAny(s[10:11], "Tt") {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp", s)
	}
	if frac := strings.IndexByte(s, '.'); frac >= 0 {
		end := frac + 1
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		if end-frac-1 > 9 {
			return time.Time{}, fmt.Errorf("%q has more than 9 fractional digits", s)
		}
	}
	return t.UTC(), nil
}

// VersionKey normalises a version timestamp (modified, or created) to the text
// form stores compare and index. Two strings naming the same instant give the same key.
func VersionKey(ts string) (string, error) {
	if ts == "" {
		return "", nil
	}
	t, err := ParseTimestamp(ts)
	if err != nil {
		return "", err
	}
	return t.Format(versionLayout), nil
}

// ObjectVersion is the version string of an object: modified, else created, else "".
func ObjectVersion(created, modified string) string {
	if modified != "" {
		return modified
	}
	return created
}

// Micros converts t to microseconds since the Unix epoch (truncating).
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FormatDateAdded shows a date_added in microseconds as TAXII wants it.
func FormatDateAdded(us int64) string {
	return time.UnixMicro(us).UTC().Format(DateAddedLayout)
}
