package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Conversion names one rewrite Convert20 made, for the per-source counters.
type Conversion string

// The rewrites of the STIX 2.0 → 2.1 mapping. Every converted object gets
// ConvSpecVersion; the others depend on its type.
const (
	ConvSpecVersion      Conversion = "spec_version"       // "spec_version": "2.1" added
	ConvIndicatorTypes   Conversion = "indicator_types"    // indicator labels → indicator_types
	ConvPatternType      Conversion = "pattern_type"       // indicator pattern_type "stix" added
	ConvMalwareTypes     Conversion = "malware_types"      // malware labels → malware_types
	ConvIsFamily         Conversion = "is_family"          // malware is_family true added
	ConvToolTypes        Conversion = "tool_types"         // tool labels → tool_types
	ConvThreatActorTypes Conversion = "threat_actor_types" // threat-actor labels → threat_actor_types
	ConvReportTypes      Conversion = "report_types"       // report labels → report_types
)

// labelsTo is the 2.0 type whose required open-vocabulary labels became a
// typed property in 2.1 (STIX 2.1 §3.2 and each object's section).
var labelsTo = map[string]Conversion{
	"indicator":    ConvIndicatorTypes,
	"malware":      ConvMalwareTypes,
	"tool":         ConvToolTypes,
	"threat-actor": ConvThreatActorTypes,
	"report":       ConvReportTypes,
}

// ErrNotObject is returned for input that is not a JSON object with a type.
var ErrNotObject = errors.New("not a STIX object")

// Convert20 rewrites one STIX 2.0 object as STIX 2.1 by this mapping:
//   - spec_version "2.1" is added (2.0 objects carry none; their bundle did);
//   - indicator, malware, tool, threat-actor and report: labels become
//     indicator_types, malware_types, tool_types, threat_actor_types and
//     report_types (2.0 used labels for exactly that vocabulary; 2.1 keeps
//     labels free-form), unless the typed property is already present;
//   - indicator: pattern_type "stix" (2.0 patterns are all STIX patterns);
//   - malware: is_family true when absent (2.1 requires it; 2.0 malware
//     objects name families in practice, ATT&CK's and the OASIS examples'
//     alike, and the OASIS elevator maps them the same way).
//
// Objects that already declare spec_version "2.1" are returned unchanged with
// no conversions. The result is not validated here: the caller stores it only
// when it then validates, like any other object.
func Convert20(raw []byte) ([]byte, []Conversion, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, nil, ErrNotObject
	}
	var typ string
	if err := json.Unmarshal(obj["type"], &typ); err != nil || typ == "" {
		return nil, nil, ErrNotObject
	}
	var spec string
	if v, ok := obj["spec_version"]; ok {
		if err := json.Unmarshal(v, &spec); err != nil {
			return nil, nil, fmt.Errorf("spec_version is not a string")
		}
	}
	if spec == "2.1" {
		return raw, nil, nil
	}
	if spec != "" && spec != "2.0" {
		return nil, nil, fmt.Errorf("spec_version %q is neither 2.0 nor 2.1", spec)
	}
	var conv []Conversion
	obj["spec_version"] = json.RawMessage(`"2.1"`)
	conv = append(conv, ConvSpecVersion)
	if target, ok := labelsTo[typ]; ok {
		if labels, has := obj["labels"]; has {
			if _, already := obj[string(target)]; !already {
				obj[string(target)] = labels
				delete(obj, "labels")
				conv = append(conv, target)
			}
		}
	}
	switch typ {
	case "indicator":
		if _, ok := obj["pattern_type"]; !ok {
			obj["pattern_type"] = json.RawMessage(`"stix"`)
			conv = append(conv, ConvPatternType)
		}
	case "malware":
		if _, ok := obj["is_family"]; !ok {
			obj["is_family"] = json.RawMessage(`true`)
			conv = append(conv, ConvIsFamily)
		}
	}
	// An Encoder, since Marshal would rewrite <, > and & in every string.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), conv, nil
}
