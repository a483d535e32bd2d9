package stix

import (
	"fmt"
	"unicode/utf8"
)

// quoteShort quotes a value for a message, cut to a readable length: a
// reason must fit on a line even when the offending value is megabytes.
func quoteShort(s string) string {
	const keep = 64
	if len(s) <= keep {
		return fmt.Sprintf("%q", s)
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:cut], len(s))
}

// shortText cuts a value for a message without quoting it.
func shortText(s string) string {
	if len(s) <= 64 {
		return s
	}
	return quoteShort(s)
}
