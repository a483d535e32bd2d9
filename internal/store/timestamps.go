package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/inthreat/taxii-server/internal/stix"
)

// DateAddedLayout is how date_added is shown: microseconds and Z, as TAXII headers want.
const DateAddedLayout = "2006-01-02T15:04:05.000000Z"

// ParseTimestamp parses a TAXII timestamp parameter: a STIX timestamp, or an
// RFC 3339 one with an offset, which is converted to UTC. Either way stix's
// parser has the last word (real dates, leap seconds, at most 9 fractional
// digits), so parameters and stored objects follow one rule.
func ParseTimestamp(s string) (time.Time, error) {
	ts, err := parseSTIX(s)
	if err != nil {
		return time.Time{}, err
	}
	return ts.Time(), nil
}

// VersionKey normalises a version timestamp (modified, or created) to the text
// form stores compare and index. Two strings naming the same instant give the
// same key. The rule is stix.ParseTimestamp's, which validation applies to
// every object, so an object that passed validation always has a key.
func VersionKey(ts string) (string, error) {
	if ts == "" {
		return "", nil
	}
	t, err := parseSTIX(ts)
	if err != nil {
		return "", err
	}
	return t.Key(), nil
}

func parseSTIX(s string) (stix.Timestamp, error) {
	if len(s) < 20 || len(s) > 64 {
		return stix.Timestamp{}, fmt.Errorf("%q is not an RFC 3339 timestamp", s)
	}
	if last := s[len(s)-1]; last == 'Z' || last == 'z' {
		// Lower-case t and z are RFC 3339 too.
		return stix.ParseTimestamp(s[:10] + "T" + s[11:len(s)-1] + "Z")
	}
	// An offset: convert to UTC, keeping every fractional digit, then
	// parse the STIX form.
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.ContainsAny(s[10:11], "Tt") {
		return stix.Timestamp{}, fmt.Errorf("%q is not an RFC 3339 timestamp", s)
	}
	frac := ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		end := i + 1
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		frac = s[i:end]
	}
	return stix.ParseTimestamp(t.UTC().Format("2006-01-02T15:04:05") + frac + "Z")
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
