// Package feed holds what a feed is beyond its storage: the flags that set a
// filter and their validation, the default feed, and a filter said in words.
// The CLI uses it, and the admin API is meant to.
package feed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/inthreat/taxii-server/internal/store"
)

// The default feed shows the whole store. Its id is the one Sekoia.io documents
// for its own Default Feed, so guides written for Sekoia.io only change the host.
const (
	DefaultID    = "d6092c37-d8d7-45c3-8aff-c4dc26030608"
	DefaultTitle = "Default feed"
)

// ErrDefaultFeed refuses deleting the default feed or changing its filter.
var ErrDefaultFeed = errors.New("the default feed shows the whole store: it cannot be deleted and its filter cannot be changed (its title, description and alias can)")

// EnsureDefault creates the default feed unless it exists; safe from several processes at once.
func EnsureDefault(ctx context.Context, st store.Feeds) error {
	if _, err := st.GetFeed(ctx, DefaultID); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	err := st.CreateFeed(ctx, store.Feed{ID: DefaultID, Title: DefaultTitle})
	if errors.Is(err, store.ErrConflict) {
		return nil // another process made it first
	}
	return err
}

// IsDefault reports whether id names the default feed.
func IsDefault(id string) bool { return strings.EqualFold(id, DefaultID) }

// CheckDelete refuses deleting the default feed.
func CheckDelete(f store.Feed) error {
	if IsDefault(f.ID) {
		return ErrDefaultFeed
	}
	return nil
}

// CheckUpdate refuses a new filter on the default feed.
func CheckUpdate(old, updated store.Feed) error {
	if IsDefault(old.ID) && !sameFilter(old.Filter, updated.Filter) {
		return ErrDefaultFeed
	}
	return nil
}

func sameFilter(a, b store.FeedFilter) bool {
	a.Index, b.Index = "", ""
	return Describe(a) == Describe(b) && slices.Equal(a.Sources, b.Sources) && slices.Equal(a.CreatedBy, b.CreatedBy)
}

// Flag is one filter flag of feed create and feed update.
type Flag struct {
	Name  string
	Bool  bool
	Usage string
}

// Flags lists the filter flags, in the order help shows them.
var Flags = []Flag{
	{Name: "types", Usage: "comma-separated STIX types the feed shows; empty: all"},
	{Name: "exclude-types", Usage: "comma-separated STIX types the feed never shows"},
	{Name: "tlp", Usage: "TLP levels the feed shows: clear (or white), green, amber, amber+strict, red, none (no TLP marking); an object's level is the highest it carries"},
	{Name: "sources", Usage: "provenance sources (API key name, import, upstream) of the versions the feed shows"},
	{Name: "created-by", Usage: "identity ids: created_by_ref or any of x_inthreat_sources_refs"},
	{Name: "min-confidence", Usage: "0-100; objects with a lower confidence, or none, are left out; 0: no condition"},
	{Name: "labels", Usage: "comma-separated labels; an object with any of them is shown"},
	{Name: "exclude-revoked", Bool: true, Usage: "leave out revoked objects (a poller then never learns that its copy is revoked)"},
	{Name: "exclude-expired", Bool: true, Usage: "leave out objects whose valid_until is past when the page is read"},
	{Name: "with-context", Bool: true, Usage: "also show every identity and marking-definition, whatever the other filters"},
}

// Set applies one filter flag to f; an empty list clears that condition.
// Lists are comma-separated; values are checked for form (types also need
// CheckTypes, which knows the store).
func Set(f *store.FeedFilter, name, value string) error {
	list := splitList(value)
	switch name {
	case "types", "exclude-types":
		for _, t := range list {
			if !typeName(t) {
				return fmt.Errorf("--%s: %q is not a STIX type name (lower case letters, digits and single hyphens, 3-250 characters)", name, t)
			}
		}
		if name == "types" {
			f.Types = list
		} else {
			f.ExcludeTypes = list
		}
	case "tlp":
		var levels []store.TLP
		for _, v := range list {
			l, ok := store.TLPByName(v)
			if !ok {
				return fmt.Errorf("--tlp: %q is not a TLP level; want clear, white, green, amber, amber+strict, red or none", v)
			}
			if !slices.Contains(levels, l) {
				levels = append(levels, l)
			}
		}
		slices.Sort(levels)
		f.TLP = levels
	case "sources":
		f.Sources = list
	case "created-by":
		for _, id := range list {
			if !strings.HasPrefix(id, "identity--") || len(id) != len("identity--")+36 {
				return fmt.Errorf("--created-by: %q is not an identity id (identity--<uuid>)", id)
			}
		}
		f.CreatedBy = list
	case "min-confidence":
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if value == "" {
			n, err = 0, nil
		}
		if err != nil || n < 0 || n > 100 {
			return fmt.Errorf("--min-confidence: %q is not a whole number from 0 to 100", value)
		}
		f.MinConfidence = n
	case "labels":
		f.Labels = list
	case "exclude-revoked", "exclude-expired", "with-context":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("--%s: %q is not true or false", name, value)
		}
		switch name {
		case "exclude-revoked":
			f.ExcludeRevoked = b
		case "exclude-expired":
			f.ExcludeExpired = b
		default:
			f.WithContext = b
		}
	default:
		return fmt.Errorf("unknown feed filter %q", name)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// typeName is the STIX 2.1 rule for type names: 3-250 characters, lower-case
// ASCII letters, digits and hyphens, no leading, trailing or double hyphen.
func typeName(t string) bool {
	if len(t) < 3 || len(t) > 250 || t[0] == '-' || t[len(t)-1] == '-' || strings.Contains(t, "--") {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks what Set cannot check alone: type names against STIX 2.1,
// custom (x-) types and the types present in the store (stored), and the
// conditions this build can serve.
func Validate(f store.FeedFilter, stored []string) error {
	for _, list := range []struct {
		flag  string
		types []string
	}{{"types", f.Types}, {"exclude-types", f.ExcludeTypes}} {
		for _, t := range list.types {
			if err := checkType(t, stored); err != nil {
				return fmt.Errorf("--%s: %w", list.flag, err)
			}
		}
	}
	return nil
}

func checkType(t string, stored []string) error {
	if slices.Contains(STIXTypes, t) || strings.HasPrefix(t, "x-") || slices.Contains(stored, t) {
		return nil
	}
	known := slices.Concat(STIXTypes, stored)
	return fmt.Errorf("%q is neither a STIX 2.1 type, a custom (x-) type nor a type in the store; did you mean %s?",
		t, strings.Join(closest(t, known, 3), ", "))
}

// closest returns up to n names nearest to t by edit distance.
func closest(t string, names []string, n int) []string {
	type scored struct {
		name string
		d    int
	}
	var all []scored
	for _, name := range names {
		all = append(all, scored{name, distance(t, name)})
	}
	slices.SortStableFunc(all, func(a, b scored) int { return a.d - b.d })
	var out []string
	for _, s := range all {
		if len(out) == n {
			break
		}
		if !slices.Contains(out, s.name) {
			out = append(out, s.name)
		}
	}
	return out
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// STIXTypes are the object types STIX 2.1 defines (SDOs, SROs, SCOs and meta objects).
var STIXTypes = []string{
	"attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident", "indicator",
	"infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note", "observed-data",
	"opinion", "report", "threat-actor", "tool", "vulnerability",
	"relationship", "sighting",
	"artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message", "file",
	"ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url",
	"user-account", "windows-registry-key", "x509-certificate",
	"marking-definition", "language-content", "extension-definition",
}

// TLPName is how Describe and feed show name a level.
func TLPName(l store.TLP) string {
	switch l {
	case store.TLPClear:
		return "CLEAR"
	case store.TLPGreen:
		return "GREEN"
	case store.TLPAmber:
		return "AMBER"
	case store.TLPAmberStrict:
		return "AMBER+STRICT"
	case store.TLPRed:
		return "RED"
	}
	return "none"
}

// Describe says in words what a feed with this filter holds, for the
// collection's description when none was given: "indicator objects, TLP:CLEAR
// or GREEN, created by identity--…".
func Describe(f store.FeedFilter) string {
	var parts []string
	if len(f.Types) == 0 {
		parts = append(parts, "every object")
	} else {
		parts = append(parts, orList(f.Types)+" objects")
	}
	if len(f.ExcludeTypes) > 0 {
		parts = append(parts, "except "+orList(f.ExcludeTypes))
	}
	if len(f.TLP) > 0 {
		var names []string
		for _, l := range f.TLP {
			names = append(names, TLPName(l))
		}
		parts = append(parts, "TLP:"+orList(names))
	}
	if len(f.Sources) > 0 {
		parts = append(parts, "from source "+orList(f.Sources))
	}
	if len(f.CreatedBy) > 0 {
		parts = append(parts, "created by "+orList(f.CreatedBy))
	}
	if f.MinConfidence > 0 {
		parts = append(parts, fmt.Sprintf("confidence at least %d", f.MinConfidence))
	}
	if len(f.Labels) > 0 {
		parts = append(parts, "labelled "+orList(f.Labels))
	}
	switch {
	case f.ExcludeRevoked && f.ExcludeExpired:
		parts = append(parts, "neither revoked nor expired")
	case f.ExcludeRevoked:
		parts = append(parts, "not revoked")
	case f.ExcludeExpired:
		parts = append(parts, "not expired")
	}
	s := strings.Join(parts, ", ")
	if f.WithContext {
		s += "; with every identity and marking-definition"
	}
	return s
}

func orList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
