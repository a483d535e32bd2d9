package stix

import (
	"fmt"
	"strings"
	"time"
)

// instant is a parsed STIX timestamp. frac keeps every fractional digit
// (trailing zeros removed) so that ordering is exact beyond nanoseconds.
type instant struct {
	sec  int64
	leap bool // 23:59:60: after every fraction of sec, before sec+1
	frac string
}

// before reports whether a is strictly earlier than b.
func (a instant) before(b instant) bool {
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.leap != b.leap {
		return b.leap
	}
	// Both are digit strings without trailing zeros: lexical order is numeric order.
	return a.frac < b.frac
}

// leapSeconds lists the days (UTC) that ended with a positive leap second,
// so 23:59:60 is accepted exactly where it really happened.
var leapSeconds = map[string]bool{
	"1972-06-30": true, "1972-12-31": true, "1973-12-31": true, "1974-12-31": true,
	"1975-12-31": true, "1976-12-31": true, "1977-12-31": true, "1978-12-31": true,
	"1979-12-31": true, "1981-06-30": true, "1982-06-30": true, "1983-06-30": true,
	"1985-06-30": true, "1987-12-31": true, "1989-12-31": true, "1990-12-31": true,
	"1992-06-30": true, "1993-06-30": true, "1994-06-30": true, "1995-12-31": true,
	"1997-06-30": true, "1998-12-31": true, "2005-12-31": true, "2008-12-31": true,
	"2012-06-30": true, "2015-06-30": true, "2016-12-31": true,
}

const timestampShape = "YYYY-MM-DDTHH:MM:SS[.s+]Z"

// timestampShapeOK reports whether s has the lexical form of the schemas'
// timestamp.json (and of pattern timestamp literals): fields in range, but
// not necessarily a real date.
func timestampShapeOK(s string) bool {
	_, _, ok := splitTimestamp(s)
	return ok
}

// splitTimestamp checks the lexical form and returns the numeric fields
// (year, month, day, hour, minute, second) and the fractional digits.
func splitTimestamp(s string) (f [6]int, frac string, ok bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' {
		return f, "", false
	}
	if s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return f, "", false
	}
	pos := [6][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}}
	for i, p := range pos {
		n := 0
		for j := p[0]; j < p[1]; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return f, "", false
			}
			n = n*10 + int(c-'0')
		}
		f[i] = n
	}
	rest := s[19 : len(s)-1]
	if rest != "" {
		if rest[0] != '.' || len(rest) < 2 {
			return f, "", false
		}
		for j := 1; j < len(rest); j++ {
			if rest[j] < '0' || rest[j] > '9' {
				return f, "", false
			}
		}
		frac = rest[1:]
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 60 {
		return f, "", false
	}
	return f, frac, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// maxFracDigits is the finest precision a timestamp may carry: the stores
// order versions by a key kept to the nanosecond, so a finer timestamp could
// not be told apart from its neighbours.
const maxFracDigits = 9

// parseTimestamp parses a STIX timestamp and checks that it names a real
// instant the stores can keep. The error text is a reason for a person,
// without the property name.
func parseTimestamp(s string) (instant, error) {
	t, err := ParseTimestamp(s)
	return t.inst, err
}

// Timestamp is a STIX timestamp that validation accepted and a store can
// keep. It is the one parser of object timestamps: the validator and the
// stores' version keys both use it, so the store never meets a timestamp
// that validation let through but it cannot order.
type Timestamp struct {
	inst   instant
	fields [6]int // year, month, day, hour, minute, second (60 in a leap second)
}

// ParseTimestamp parses YYYY-MM-DDTHH:MM:SS[.s+]Z (UTC). It refuses dates
// that do not exist, 23:59:60 except at the end of a day that had a leap
// second, and more than 9 fractional digits.
func ParseTimestamp(s string) (Timestamp, error) {
	f, frac, ok := splitTimestamp(s)
	if !ok {
		return Timestamp{}, fmt.Errorf("%s is not a STIX timestamp (%s, UTC)", quoteShort(s), timestampShape)
	}
	if f[2] > daysIn(f[0], f[1]) {
		return Timestamp{}, fmt.Errorf("%s is not a real date", s)
	}
	if f[5] == 60 && (f[3] != 23 || f[4] != 59 || !leapSeconds[s[:10]]) {
		return Timestamp{}, fmt.Errorf("%s is not a real time (no leap second then)", s)
	}
	if len(frac) > maxFracDigits {
		return Timestamp{}, fmt.Errorf("%s has %d fractional digits; timestamps are kept to the nanosecond, so at most %d", s, len(frac), maxFracDigits)
	}
	sec := time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], 0, time.UTC).Unix()
	if f[5] == 60 {
		// The leap second sorts after 23:59:59 and before the next day.
		sec--
	}
	return Timestamp{inst: instant{sec: sec, leap: f[5] == 60, frac: strings.TrimRight(frac, "0")}, fields: f}, nil
}

// Key is the timestamp in a fixed-width form whose text order is time
// order: nine fractional digits and Z. A leap second keeps its :60.
func (t Timestamp) Key() string {
	f := t.fields
	frac := t.inst.frac + strings.Repeat("0", maxFracDigits-len(t.inst.frac))
	return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%sZ", f[0], f[1], f[2], f[3], f[4], f[5], frac)
}

// Time is the timestamp as a time.Time. Go has no leap seconds, so a leap
// second reads as the last nanosecond of 23:59:59; Key keeps it exact.
func (t Timestamp) Time() time.Time {
	if t.inst.leap {
		return time.Unix(t.inst.sec, int64(time.Second-1)).UTC()
	}
	ns := 0
	for i := 0; i < maxFracDigits; i++ {
		ns *= 10
		if i < len(t.inst.frac) {
			ns += int(t.inst.frac[i] - '0')
		}
	}
	return time.Unix(t.inst.sec, int64(ns)).UTC()
}

// Leap reports a leap second (23:59:60).
func (t Timestamp) Leap() bool { return t.inst.leap }
