package stix

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// explain names the problem of an object the schema refused, for the branch
// the object evidently means to take, where the schema library's deepest
// error points at another branch (a oneOf reports the failures of every
// branch). It returns "" when it has nothing more precise to say; it never
// decides validity, only the words.
func explain(obj map[string]any, typ string) (path, reason string) {
	switch typ {
	case "marking-definition":
		if obj["definition_type"] == "tlp" {
			if p, r := explainTLP(obj); r != "" {
				return p, r
			}
		}
	case "observed-data":
		_, objects := obj["objects"]
		_, refs := obj["object_refs"]
		switch {
		case !objects && !refs:
			return "/object_refs", "required property object_refs is missing: observed-data lists what was observed in object_refs (STIX 2.1), or in the deprecated objects, not both"
		case objects && refs:
			return "/objects", "observed-data has both object_refs and the deprecated objects; STIX 2.1 wants exactly one of them (object_refs)"
		}
	}
	return explainExternalRefs(obj)
}

// tlpLevels are the four TLP marking definitions STIX 2.1 fixes (section 7.2.1.4).
var tlpLevels = map[string]string{
	"white": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
	"green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
	"amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
	"red":   "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}

const tlpCreated = "2017-01-20T00:00:00.000Z"

var tlpProps = map[string]bool{"type": true, "id": true, "spec_version": true, "name": true, "created": true, "definition": true, "definition_type": true}

// explainTLP checks a marking definition with definition_type "tlp" against
// the TLP level it names (in definition.tlp, else name, else id).
func explainTLP(obj map[string]any) (path, reason string) {
	def, _ := obj["definition"].(map[string]any)
	tlp, _ := def["tlp"].(string)
	name, _ := obj["name"].(string)
	// The id names the marking best, then the name, then definition.tlp.
	level := ""
	for _, by := range []func(l, id string) bool{
		func(_, id string) bool { return obj["id"] == id },
		func(l, _ string) bool { return strings.EqualFold(name, "TLP:"+l) },
		func(l, _ string) bool { return tlp == l },
	} {
		for l, id := range tlpLevels {
			if level == "" && by(l, id) {
				level = l
			}
		}
	}
	for _, p := range []string{"name", "definition", "created", "id"} {
		if _, ok := obj[p]; !ok {
			hint := ""
			if level != "" {
				switch p {
				case "name":
					hint = fmt.Sprintf(" (%q)", "TLP:"+strings.ToUpper(level))
				case "definition":
					hint = fmt.Sprintf(` ({"tlp": %q})`, level)
				}
			}
			return "/" + p, fmt.Sprintf("required property %s is missing: a TLP marking definition carries name, definition, created and id as STIX 2.1 fixes them%s", p, hint)
		}
	}
	if level == "" {
		return "/definition/tlp", fmt.Sprintf("a TLP marking definition has definition.tlp white, green, amber or red; found %s", display(def["tlp"]))
	}
	upper := "TLP:" + strings.ToUpper(level)
	switch {
	case def["tlp"] != level:
		return "/definition/tlp", fmt.Sprintf("the %s marking definition has definition.tlp %q; found %s", upper, level, display(def["tlp"]))
	case obj["id"] != tlpLevels[level]:
		return "/id", fmt.Sprintf("the %s marking definition has the id %s; found %s", upper, tlpLevels[level], display(obj["id"]))
	case obj["name"] != upper:
		return "/name", fmt.Sprintf("the %s marking definition is named %q; found %s", upper, upper, display(obj["name"]))
	case obj["created"] != tlpCreated:
		return "/created", fmt.Sprintf("the TLP marking definitions were created %s; found %s", tlpCreated, display(obj["created"]))
	}
	var extra []string
	for k := range obj {
		if !tlpProps[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return "/" + escapePointer(pointerSegment(extra[0])), fmt.Sprintf("property %s is not allowed in a TLP marking definition: STIX 2.1 fixes the four TLP markings (type, id, spec_version, created, name, definition_type, definition)", shortText(extra[0]))
	}
	return "", ""
}

var (
	cveID   = regexp.MustCompile(`^CVE-\d{4}-(0\d{3}|[1-9]\d{3,})$`)
	capecID = regexp.MustCompile(`^CAPEC-\d+$`)
)

// explainExternalRefs checks the cve and capec rules of the external
// references by their source_name.
func explainExternalRefs(obj map[string]any) (path, reason string) {
	refs, _ := obj["external_references"].([]any)
	for i, r := range refs {
		ref, _ := r.(map[string]any)
		src, _ := ref["source_name"].(string)
		id, hasID := ref["external_id"]
		ids, _ := id.(string)
		at := fmt.Sprintf("/external_references/%d", i)
		var re *regexp.Regexp
		var example string
		switch src {
		case "cve":
			re, example = cveID, "CVE-2021-44228"
		case "capec":
			re, example = capecID, "CAPEC-66"
		default:
			switch {
			case cveID.MatchString(ids):
				return at + "/source_name", fmt.Sprintf("external_id %s is a CVE id, so source_name must be \"cve\"; found %s", ids, display(ref["source_name"]))
			case capecID.MatchString(ids):
				return at + "/source_name", fmt.Sprintf("external_id %s is a CAPEC id, so source_name must be \"capec\"; found %s", ids, display(ref["source_name"]))
			}
			continue
		}
		if !hasID {
			return at + "/external_id", fmt.Sprintf("required property external_id is missing: a %s reference names its %s id (e.g. %s)", src, strings.ToUpper(src), example)
		}
		if !re.MatchString(ids) {
			return at + "/external_id", fmt.Sprintf("%s is not a %s id: with source_name %q, external_id looks like %s", display(id), strings.ToUpper(src), src, example)
		}
	}
	return "", ""
}
