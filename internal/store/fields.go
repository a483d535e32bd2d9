package store

import (
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
// where STIX forbids them, and custom objects may use them freely.
func ExtractFields(raw []byte) Fields {
	var o struct {
		Type       string                     `json:"type"`
		Markings   json.RawMessage            `json:"object_marking_refs"`
		CreatedBy  json.RawMessage            `json:"created_by_ref"`
		Sources    json.RawMessage            `json:"x_inthreat_sources_refs"`
		Confidence json.RawMessage            `json:"confidence"`
		Labels     json.RawMessage            `json:"labels"`
		Revoked    json.RawMessage            `json:"revoked"`
		ValidUntil json.RawMessage            `json:"valid_until"`
		Definition json.RawMessage            `json:"definition"`
		Extensions map[string]json.RawMessage `json:"extensions"`
	}
	f := Fields{Confidence: -1}
	if json.Unmarshal(raw, &o) != nil {
		return f
	}
	f.MarkingRefs = stringList(o.Markings)
	if s, ok := str(o.CreatedBy); ok && s != "" {
		f.Creators = append(f.Creators, s)
	}
	f.Creators = append(f.Creators, stringList(o.Sources)...)
	var c float64
	if json.Unmarshal(o.Confidence, &c) == nil && o.Confidence != nil && c == float64(int(c)) && c >= 0 && c <= 100 {
		f.Confidence = int(c)
	}
	f.Labels = stringList(o.Labels)
	_ = json.Unmarshal(o.Revoked, &f.Revoked)
	if s, ok := str(o.ValidUntil); ok {
		if t, err := ParseTimestamp(s); err == nil {
			f.ValidUntil = Micros(t)
		}
	}
	if o.Type == "marking-definition" {
		var d struct {
			TLP string `json:"tlp"`
		}
		if json.Unmarshal(o.Definition, &d) == nil && d.TLP != "" {
			f.DefinesTLP, _ = TLPByName(d.TLP)
		}
		var e struct {
			Level string `json:"tlp_2_0"`
		}
		if json.Unmarshal(o.Extensions[TLPExtension], &e) == nil && e.Level != "" {
			f.DefinesTLP, _ = TLPByName(e.Level)
		}
	}
	return f
}

func str(m json.RawMessage) (string, bool) {
	var s string
	err := json.Unmarshal(m, &s)
	return s, m != nil && err == nil
}

// stringList reads a JSON array of strings; anything else gives nil.
func stringList(m json.RawMessage) []string {
	var list []string
	if m == nil || json.Unmarshal(m, &list) != nil {
		return nil
	}
	out := list[:0]
	for _, s := range list {
		if s != "" {
			out = append(out, s)
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
