// Package observables finds the values an indicator's STIX pattern names (addresses,
// domains, URLs, e-mail addresses, hashes) and puts each in the forms the feed
// exports, lookups and firewall blocklists use. It is pure: no I/O.
package observables

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"strings"

	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// Blocklist kinds, the {kind} of …/lists/{kind}.txt.
const (
	ListIPv4   = "ipv4"
	ListIPv6   = "ipv6"
	ListCIDR   = "cidr"
	ListDomain = "domain"
	ListURL    = "url"
	ListSHA256 = "sha256"
	ListSHA1   = "sha1"
	ListMD5    = "md5"
)

// Lists are the blocklist kinds, in the order the documentation gives them.
var Lists = []string{ListIPv4, ListIPv6, ListCIDR, ListDomain, ListURL, ListSHA256, ListSHA1, ListMD5}

// Of returns the observables of one stored object: those of its pattern when it is an
// indicator with pattern_type stix, with its revoked flag and valid_until; nil for
// anything else (other objects, sigma/yara/snort patterns, unparsable patterns).
func Of(raw []byte) []store.Observable {
	var ind struct {
		Type        string `json:"type"`
		Pattern     string `json:"pattern"`
		PatternType string `json:"pattern_type"`
		Revoked     bool   `json:"revoked"`
		ValidUntil  string `json:"valid_until"`
	}
	if json.Unmarshal(raw, &ind) != nil || ind.Type != "indicator" || ind.PatternType != "stix" {
		return nil
	}
	obs := FromPattern(ind.Pattern)
	var until int64
	if t, err := store.ParseTimestamp(ind.ValidUntil); err == nil {
		until = store.Micros(t)
	}
	for i := range obs {
		obs[i].Revoked, obs[i].ValidUntil = ind.Revoked, until
	}
	return obs
}

// OfType is Of for an object whose type is already known: only indicators are read again.
func OfType(objectType string, raw []byte) []store.Observable {
	if objectType != "indicator" {
		return nil
	}
	return Of(raw)
}

// FromPattern returns the values a STIX pattern names, each once, in pattern order:
// comparisons with =, IN or (for addresses) ISSUBSET, not negated, on a path that
// holds a value of a known kind. A pattern that does not parse names nothing.
func FromPattern(pattern string) []store.Observable {
	p, err := stix.ParsePattern(pattern)
	if err != nil {
		return nil
	}
	var out []store.Observable
	seen := map[[2]string]bool{}
	add := func(o store.Observable, ok bool) {
		k := [2]string{o.Type, o.Value}
		if ok && !seen[k] {
			seen[k] = true
			out = append(out, o)
		}
	}
	var comparison func(stix.ComparisonExpr)
	comparison = func(e stix.ComparisonExpr) {
		switch c := e.(type) {
		case *stix.ComparisonOp:
			for _, o := range c.Operands {
				comparison(o)
			}
		case *stix.Comparison:
			if c.Negated {
				return
			}
			typ, ok := valueType(c.Path)
			if !ok || !(c.Operator == "=" || c.Operator == "IN" || c.Operator == "ISSUBSET" && isAddress(typ)) {
				return
			}
			for _, v := range c.Values {
				if v.Kind == stix.LiteralString {
					add(normalise(typ, v.Value))
				}
			}
		}
	}
	var observation func(stix.ObservationExpr)
	observation = func(e stix.ObservationExpr) {
		switch o := e.(type) {
		case *stix.Observation:
			comparison(o.Comparison)
		case *stix.ObservationGroup:
			observation(o.Expr)
		case *stix.ObservationOp:
			for _, x := range o.Operands {
				observation(x)
			}
		}
	}
	observation(p.Root)
	return out
}

// addrRef is what a *_ref.value of these objects points at: an address of either family,
// or a domain; the value itself tells which.
const addrRef = "address"

// valueType says which kind of value a path holds, or false when it holds none we export.
func valueType(p stix.ObjectPath) (string, bool) {
	keys := make([]string, 0, len(p.Steps))
	for _, s := range p.Steps {
		switch {
		case s.IsKey:
			keys = append(keys, s.Key)
		case s.Any:
			keys = append(keys, "[*]")
		default:
			keys = append(keys, "[]")
		}
	}
	path := strings.Join(keys, ".")
	switch p.ObjectType + ":" + path {
	case "ipv4-addr:value", "ipv6-addr:value", "domain-name:value", "url:value", "email-addr:value",
		"mac-addr:value":
		return p.ObjectType, true
	case "network-traffic:dst_ref.value", "domain-name:resolves_to_refs.[*].value", "domain-name:resolves_to_refs.[].value":
		return addrRef, true
	case "email-message:from_ref.value", "email-message:sender_ref.value":
		return "email-addr", true
	}
	if len(keys) == 2 && keys[0] == "hashes" && (p.ObjectType == "file" || p.ObjectType == "x509-certificate" || p.ObjectType == "artifact") {
		algo := strings.ToLower(strings.ReplaceAll(keys[1], "-", ""))
		if algo == "" || algo == "[*]" || algo == "[]" {
			return "", false
		}
		return p.ObjectType + ":" + algo, true
	}
	return "", false
}

func isAddress(typ string) bool {
	return typ == "ipv4-addr" || typ == "ipv6-addr" || typ == addrRef
}

// normalise puts a value in its canonical form (lower-case domains, e-mail addresses and
// hashes; canonical IP text; masked CIDR with /32 and /128 shown as addresses) and
// gives its blocklist kind and entry. It reports false for a value that is not of its type.
func normalise(typ, v string) (store.Observable, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return store.Observable{}, false
	}
	o := store.Observable{Type: typ, Value: v}
	switch {
	case isAddress(typ):
		return address(typ, v)
	case typ == "domain-name":
		o.Value = strings.TrimSuffix(strings.ToLower(v), ".")
		if strings.ContainsAny(o.Value, " /:@") {
			return o, true
		}
		o.List, o.Entry = ListDomain, o.Value
	case typ == "email-addr":
		o.Value = strings.ToLower(v)
	case typ == "url":
		o.List, o.Entry = ListURL, urlEntry(v)
	case strings.HasPrefix(typ, "file:") || strings.HasPrefix(typ, "artifact:") || strings.HasPrefix(typ, "x509-certificate:"):
		o.Value = strings.ToLower(v)
		if strings.HasPrefix(typ, "file:") {
			switch strings.TrimPrefix(typ, "file:") {
			case "sha256":
				o.List = ListSHA256
			case "sha1":
				o.List = ListSHA1
			case "md5":
				o.List = ListMD5
			}
			if o.List != "" {
				o.Entry = o.Value
			}
		}
	}
	return o, true
}

// address parses an IP or CIDR; a reference that is neither is taken as a domain.
func address(typ, v string) (store.Observable, bool) {
	if pfx, err := netip.ParsePrefix(v); err == nil {
		pfx = pfx.Masked()
		fam := family(pfx.Addr())
		if typ != addrRef && typ != fam {
			return store.Observable{}, false
		}
		if pfx.IsSingleIP() {
			a := pfx.Addr().String()
			return store.Observable{Type: fam, Value: a, List: listOf(fam), Entry: a}, true
		}
		return store.Observable{Type: fam, Value: pfx.String(), List: ListCIDR, Entry: pfx.String()}, true
	}
	if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
		a = a.Unmap()
		fam := family(a)
		if typ != addrRef && typ != fam {
			return store.Observable{}, false
		}
		return store.Observable{Type: fam, Value: a.String(), List: listOf(fam), Entry: a.String()}, true
	}
	if typ == addrRef {
		return normalise("domain-name", v)
	}
	return store.Observable{}, false
}

func family(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "ipv4-addr"
	}
	return "ipv6-addr"
}

func listOf(fam string) string {
	if fam == "ipv4-addr" {
		return ListIPv4
	}
	return ListIPv6
}

// urlEntry is a URL as firewall URL lists take it: no scheme (PAN-OS EDL, FortiGate and
// pfSense refuse or ignore one), no fragment, the host in lower case.
func urlEntry(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		s := v
		if i := strings.Index(s, "://"); i >= 0 {
			s = s[i+3:]
		}
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		return s
	}
	s := strings.ToLower(u.Host) + u.EscapedPath()
	if u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	return s
}

// Normalise puts a looked-up value in the form Of stores, so that a lookup matches
// whatever case or IP spelling the client uses. typ may be "" (any type).
func Normalise(typ, value string) (string, string) {
	switch {
	case typ == "":
		if o, ok := address(addrRef, value); ok && o.Type != "domain-name" {
			return "", o.Value
		}
		if strings.Contains(value, "://") {
			return "", strings.TrimSpace(value)
		}
		return "", strings.ToLower(strings.TrimSpace(value))
	case typ == "url":
		return typ, strings.TrimSpace(value)
	}
	if o, ok := normalise(typ, value); ok {
		return typ, o.Value
	}
	return typ, strings.TrimSpace(value)
}
