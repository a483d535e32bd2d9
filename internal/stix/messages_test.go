package stix

import (
	"strings"
	"testing"
)

// TestMessagesFollowTheEvidentBranch: where a oneOf makes the schema
// library report another branch's failure, the message names the property,
// what was found and what STIX wants for the branch the object takes.
func TestMessagesFollowTheEvidentBranch(t *testing.T) {
	def, _ := validators(t)
	const (
		green = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
		tlp   = `{"type":"marking-definition","spec_version":"2.1","id":"` + green + `","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":"TLP:GREEN","definition":{"tlp":"green"}}`
		ap    = `{"type":"attack-pattern","spec_version":"2.1","id":"attack-pattern--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","name":"x","external_references":[REFS]}`
		od    = `{"type":"observed-data","spec_version":"2.1","id":"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf","created":"2016-04-06T19:58:16.000Z","modified":"2016-04-06T19:58:16.000Z","first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":50REST}`
		ident = `{"type":"identity","spec_version":"2.1","id":"identity--ID","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","name":"x"}`
	)
	cases := []struct {
		name, raw, path, reason string
	}{
		{"valid TLP marking", tlp, "", ""},
		{"TLP level other than amber", strings.Replace(tlp, `{"tlp":"green"}`, `{"tlp":"red"}`, 1),
			"/definition/tlp", `the TLP:GREEN marking definition has definition.tlp "green"; found "red"`},
		{"TLP level that does not exist", strings.NewReplacer(`{"tlp":"green"}`, `{"tlp":"purple"}`, "TLP:GREEN", "TLP:PURPLE", green, "marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").Replace(tlp),
			"/definition/tlp", `a TLP marking definition has definition.tlp white, green, amber or red; found "purple"`},
		{"TLP id of another level", strings.Replace(tlp, green, "marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", 1),
			"/id", `the TLP:GREEN marking definition has the id ` + green + `; found "marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"`},
		{"TLP without name", strings.Replace(tlp, `"name":"TLP:GREEN",`, "", 1),
			"/name", `required property name is missing: a TLP marking definition carries name, definition, created and id as STIX 2.1 fixes them ("TLP:GREEN")`},
		{"TLP with another property", strings.Replace(tlp, `"name"`, `"modified":"2017-01-20T00:00:00.000Z","name"`, 1),
			"/modified", "property modified is not allowed in a TLP marking definition"},
		{"capec reference with an ATT&CK id", strings.Replace(ap, "REFS", `{"source_name":"capec","external_id":"T1068"}`, 1),
			"/external_references/0/external_id", `"T1068" is not a CAPEC id: with source_name "capec", external_id looks like CAPEC-66`},
		{"cve reference with a bad id", strings.Replace(ap, "REFS", `{"source_name":"mitre-attack","external_id":"T1068"},{"source_name":"cve","external_id":"CVE-21-1"}`, 1),
			"/external_references/1/external_id", `"CVE-21-1" is not a CVE id: with source_name "cve", external_id looks like CVE-2021-44228`},
		{"CVE id under another source", strings.Replace(ap, "REFS", `{"source_name":"nvd","external_id":"CVE-2021-44228"}`, 1),
			"/external_references/0/source_name", `external_id CVE-2021-44228 is a CVE id, so source_name must be "cve"; found "nvd"`},
		{"observed-data without object_refs", strings.Replace(od, "REST", "", 1),
			"/object_refs", "required property object_refs is missing: observed-data lists what was observed in object_refs (STIX 2.1), or in the deprecated objects"},
		{"observed-data with both", strings.Replace(od, "REST", `,"object_refs":["ipv4-addr--efcd5e80-570d-4131-b213-62cb18eaa6a8"],"objects":{"0":{"type":"ipv4-addr","value":"1.2.3.4"}}`, 1),
			"/objects", "observed-data has both object_refs and the deprecated objects; STIX 2.1 wants exactly one of them (object_refs)"},
		{"UUID with a wrong variant digit", strings.Replace(ident, "ID", "8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f", 1),
			"/id", "the UUID's variant digit (the first of its fourth group) is c; STIX identifiers use RFC 4122 UUIDs, whose variant digit is 8, 9, a or b"},
		{"reference with a wrong variant digit", strings.Replace(ident, `"name":"x"`, `"name":"x","created_by_ref":"identity--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f"`, 1),
			"/created_by_ref", "variant digit (the first of its fourth group) is 7"},
		{"duplicate key names the object", strings.Replace(ident, `"name":"x"`, `"name":"x","name":"y"`, 1),
			"/name", `invalid JSON: duplicate property "name"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := strings.Replace(c.raw, "identity--ID", "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", 1)
			meta, err := def.Validate([]byte(raw))
			if c.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			e := asError(t, err)
			if e.Path != c.path || !strings.Contains(e.Reason, c.reason) {
				t.Fatalf("got %s: %s\nwant %s: %s", e.Path, e.Reason, c.path, c.reason)
			}
			if e.ID == "" || meta.ID != e.ID {
				t.Fatalf("the error names %q, Meta.ID is %q", e.ID, meta.ID)
			}
		})
	}
}
