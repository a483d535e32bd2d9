package export

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// Cursors are Sekoia.io's: base64 of an ISO-8601 timestamp, which clients also build
// themselves (OpenCTI's connector starts from base64(now - 1 hour)). A cursor means
// "objects added after this instant". The cursors this server returns hold the
// date_added of the last version read, to the microsecond: date_added is unique and
// increases in commit order, so resuming after it misses nothing and repeats nothing.

// maxCursorLength bounds what is decoded; a timestamp needs about 60 characters.
const maxCursorLength = 128

// encodeCursor is the cursor of the position after date_added us.
func encodeCursor(us int64) string {
	return base64.StdEncoding.EncodeToString([]byte(store.FormatDateAdded(us)))
}

// decodeCursor returns the date_added (µs) a cursor names; false when it is not
// base64 (standard or URL alphabet, padded or not) of an ISO-8601 timestamp.
func decodeCursor(c string) (int64, bool) {
	if c == "" || len(c) > maxCursorLength {
		return 0, false
	}
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(c); err == nil {
			break
		}
	}
	if err != nil {
		return 0, false
	}
	t, ok := parseISO(string(raw))
	if !ok {
		return 0, false
	}
	return max(0, store.Micros(t)), true
}

// isoLayouts are the forms clients send besides RFC 3339: Python's isoformat()
// without a zone (taken as UTC), and a bare date.
var isoLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02"}

// parseISO reads an ISO-8601 timestamp. Python's isoformat() of an aware time followed
// by "Z" (…+00:00Z), as some clients send, is accepted too.
func parseISO(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, err := store.ParseTimestamp(s); err == nil {
		return t, true
	}
	if trimmed, ok := strings.CutSuffix(s, "Z"); ok {
		if t, err := store.ParseTimestamp(trimmed); err == nil {
			return t, true
		}
		s = trimmed
	}
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
