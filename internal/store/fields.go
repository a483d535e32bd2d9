package store

import (
	"bytes"
	"encoding/json"
	"strings"
)

// TLP is a Traffic Light Protocol level as the stores index it. Levels are
// ordered: an object's level is the highest one its markings carry.
type TLP int

const (
	TLPNone        TLP = 0 // no TLP marking
	TLPClear       TLP = 1 // TLP 2.0 CLEAR, TLP 1.0 WHITE
	TLPGreen       TLP = 2
	TLPAmber       TLP = 3
	TLPAmberStrict TLP = 4
	TLPRed         TLP = 5
)

// TLPExtension is the OASIS TLP 2.0 extension definition.
const TLPExtension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

// TLPMarkings are the fixed marking-definition ids of TLP 1.0 (STIX 2.1
// §7.2.1.4) and TLP 2.0 (the OASIS extension). Migration 0005 seeds the same
// rows into marking_tlp.
var TLPMarkings = map[string]TLP{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLPClear, // TLP 1.0 white
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLPGreen,
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLPAmber,
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLPRed,
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": TLPClear, // TLP 2.0 clear
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": TLPGreen,
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": TLPAmber,
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": TLPAmberStrict,
	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": TLPRed,
}

// TLPByName maps a level name, as marking definitions spell it, to its level.
func TLPByName(name string) (TLP, bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "clear", "white":
		return TLPClear, true
	case "green":
		return TLPGreen, true
	case "amber":
		return TLPAmber, true
	case "amber+strict":
		return TLPAmberStrict, true
	case "red":
		return TLPRed, true
	case "none":
		return TLPNone, true
	}
	return 0, false
}

// Fields are the properties of a version that feed filters select on. The
// stores extract them at ingest (ExtractFields) into indexed columns.
type Fields struct {
	MarkingRefs []string // object_marking_refs; the store resolves them to TLP
	Creators    []string // created_by_ref and x_inthreat_sources_refs
	Confidence  int      // -1 when absent
	Labels      []string
	Revoked     bool
	ValidUntil  int64 // µs since the epoch; 0 when absent or unreadable
	// DefinesTLP is, for a marking-definition, the level its definition.tlp or
	// TLP 2.0 extension names (TLPNone otherwise): objects marked with its id carry that level.
	DefinesTLP TLP
}

// ExtractFields reads the filter fields of one object's JSON. Properties of
// the wrong JSON type are treated as absent: validation already refused them
// where STIX forbids them, and custom objects may use them freely. It walks
// the top-level members once and decodes only the few it needs: decoding the
// whole object with encoding/json cost more than the rest of ingest.
func ExtractFields(raw []byte) Fields {
	f := Fields{Confidence: -1}
	var typ string
	var definition, extensions json.RawMessage
	topLevel(raw, func(key string, v json.RawMessage) {
		switch key {
		case "type":
			typ, _ = str(v)
		case "object_marking_refs":
			f.MarkingRefs = stringList(v)
		case "created_by_ref":
			if s, ok := str(v); ok && s != "" {
				f.Creators = append([]string{s}, f.Creators...)
			}
		case "x_inthreat_sources_refs":
			f.Creators = append(f.Creators, stringList(v)...)
		case "confidence":
			var c float64
			if json.Unmarshal(v, &c) == nil && c == float64(int(c)) && c >= 0 && c <= 100 {
				f.Confidence = int(c)
			}
		case "labels":
			f.Labels = stringList(v)
		case "revoked":
			f.Revoked = string(v) == "true"
		case "valid_until":
			if s, ok := str(v); ok {
				if t, err := ParseTimestamp(s); err == nil {
					f.ValidUntil = Micros(t)
				}
			}
		case "definition":
			definition = v
		case "extensions":
			extensions = v
		}
	})
	if typ == "marking-definition" {
		var d struct {
			TLP string `json:"tlp"`
		}
		if json.Unmarshal(definition, &d) == nil && d.TLP != "" {
			f.DefinesTLP, _ = TLPByName(d.TLP)
		}
		var e map[string]struct {
			Level string `json:"tlp_2_0"`
		}
		if json.Unmarshal(extensions, &e) == nil && e[TLPExtension].Level != "" {
			f.DefinesTLP, _ = TLPByName(e[TLPExtension].Level)
		}
	}
	return f
}

// topLevel calls fn with each member of the JSON object raw, its key unescaped
// only when plain (escaped keys never name the properties above). raw has been
// validated as JSON; on anything else it stops quietly.
func topLevel(raw []byte, fn func(key string, value json.RawMessage)) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return
	}
	i++
	for {
		i = skipSpace(raw, i)
		if i >= len(raw) || raw[i] != '"' {
			return
		}
		end := skipValue(raw, i)
		if end < 0 {
			return
		}
		key := string(raw[i+1 : end-1])
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return
		}
		i = skipSpace(raw, i+1)
		end = skipValue(raw, i)
		if end < 0 {
			return
		}
		fn(key, raw[i:end])
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ',' {
			return
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return -1
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // a number, true, false or null ends where its object does
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r', ':':
			if depth == 0 {
				return i
			}
		}
	}
	if depth == 0 {
		return i
	}
	return -1
}

// str reads a JSON string; plain ones (no escape) without a decoder.
func str(m json.RawMessage) (string, bool) {
	if len(m) >= 2 && m[0] == '"' && m[len(m)-1] == '"' && !bytes.ContainsRune(m, '\\') {
		return string(m[1 : len(m)-1]), true
	}
	var s string
	err := json.Unmarshal(m, &s)
	return s, m != nil && err == nil
}

// stringList reads a JSON array of strings, dropping empty ones; anything else gives nil.
func stringList(m json.RawMessage) []string {
	i := skipSpace(m, 0)
	if i >= len(m) || m[i] != '[' {
		return nil
	}
	var out []string
	for i = skipSpace(m, i+1); i < len(m) && m[i] != ']'; i = skipSpace(m, i) {
		end := skipValue(m, i)
		if end < 0 {
			return nil
		}
		v, ok := str(m[i:end])
		if !ok {
			return nil
		}
		if v != "" {
			out = append(out, v)
		}
		if i = skipSpace(m, end); i < len(m) && m[i] == ',' {
			i++
		}
	}
	return out
}

// ResolveTLP gives the highest level among refs: fixed ids first, then custom
// marking definitions known to the store (known), which may be nil.
func ResolveTLP(refs []string, known map[string]TLP) TLP {
	level := TLPNone
	for _, r := range refs {
		l, ok := TLPMarkings[r]
		if !ok {
			l = known[r]
		}
		level = max(level, l)
	}
	return level
}
