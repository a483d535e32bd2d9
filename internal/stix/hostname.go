package stix

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// formatIDNHostname checks an internationalized host name (RFC 5890 labels,
// RFC 1034 lengths). The schema library has no idn-hostname check.
//
// Underscores are allowed: DNS carries them (_dmarc, SRV names) and feeds
// report such domains; STIX only asks for RFC 1034 names.
func formatIDNHostname(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	name := strings.TrimSuffix(s, ".")
	if name == "" {
		return fmt.Errorf("%s is not a host name: empty", quoteShort(s))
	}
	if utf8.RuneCountInString(name) > 253 {
		return fmt.Errorf("%s is not a host name: longer than 253 characters", quoteShort(s))
	}
	for label := range strings.SplitSeq(name, ".") {
		if err := checkLabel(label); err != nil {
			return fmt.Errorf("%s is not a host name: %v", quoteShort(s), err)
		}
	}
	return nil
}

func checkLabel(label string) error {
	if label == "" {
		return fmt.Errorf("empty label")
	}
	if utf8.RuneCountInString(label) > 63 {
		return fmt.Errorf("label %s is longer than 63 characters", quoteShort(label))
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return fmt.Errorf("label %s starts or ends with a hyphen", quoteShort(label))
	}
	// RFC 5891 4.2.3.1: "--" in positions 3-4 is reserved for A-labels (xn--).
	if len(label) >= 4 && label[2:4] == "--" && !strings.HasPrefix(strings.ToLower(label), "xn--") {
		return fmt.Errorf("label %s has '--' in positions 3 and 4", quoteShort(label))
	}
	for _, r := range label {
		switch {
		case r == '-' || r == '_':
		case r < utf8.RuneSelf:
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
				return fmt.Errorf("character %q is not allowed", r)
			}
		case r == utf8.RuneError:
			return fmt.Errorf("invalid UTF-8")
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r):
		default:
			return fmt.Errorf("character %q is not allowed", r)
		}
	}
	return nil
}
