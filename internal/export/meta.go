package export

import (
	"encoding/json"
	"strconv"

	"github.com/inthreat/taxii-server/internal/store"
)

// meta is what the formats show of an object.
type meta struct {
	ID           string   `json:"id"`
	Type         string   `json:"type"`
	Name         string   `json:"name"`
	PatternType  string   `json:"pattern_type"`
	Confidence   *int     `json:"confidence"`
	ValidFrom    string   `json:"valid_from"`
	ValidUntil   string   `json:"valid_until"`
	Revoked      bool     `json:"revoked"`
	CreatedByRef string   `json:"created_by_ref"`
	Labels       []string `json:"labels"`
	Markings     []string `json:"object_marking_refs"`
}

// parseMeta reads meta from stored JSON; a field of an unexpected type leaves it empty.
func parseMeta(raw []byte) meta {
	var m meta
	if json.Unmarshal(raw, &m) != nil {
		var loose struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		}
		_ = json.Unmarshal(raw, &loose)
		return meta{ID: loose.ID, Type: loose.Type}
	}
	return m
}

func (m meta) stixIndicator() bool { return m.Type == "indicator" && m.PatternType == "stix" }

// expired reports whether valid_until is at or before now (µs).
func (m meta) expired(now int64) bool {
	if m.ValidUntil == "" {
		return false
	}
	t, err := store.ParseTimestamp(m.ValidUntil)
	return err == nil && store.Micros(t) <= now
}

func (m meta) confidence() string {
	if m.Confidence == nil {
		return ""
	}
	return strconv.Itoa(*m.Confidence)
}

// tlpMarkings are the TLP marking definitions the STIX 2.1 specification defines (7.2.1.4).
var tlpMarkings = map[string]string{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "white",
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
}

func (m meta) tlp() string {
	for _, ref := range m.Markings {
		if t, ok := tlpMarkings[ref]; ok {
			return t
		}
	}
	return ""
}
