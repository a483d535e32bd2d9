package sources

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/shareddata"
	"github.com/inthreat/taxii-server/internal/stix"
)

func decode(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return m
}

func TestConvert20Mapping(t *testing.T) {
	const ts = `"created":"2017-01-01T00:00:00.000Z","modified":"2017-01-01T00:00:00.000Z"`
	tests := []struct {
		name, in string
		want     map[string]any // properties the output must have
		gone     []string       // properties it must not have
		conv     []Conversion
	}{
		{"indicator",
			`{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` + ts + `,"labels":["malicious-activity"],"pattern":"[ipv4-addr:value = '198.51.100.7']","valid_from":"2017-01-01T00:00:00Z","name":"<c2> & co"}`,
			map[string]any{"spec_version": "2.1", "indicator_types": []any{"malicious-activity"}, "pattern_type": "stix", "name": "<c2> & co"},
			[]string{"labels"}, []Conversion{ConvSpecVersion, ConvIndicatorTypes, ConvPatternType}},
		{"indicator keeping its own pattern_type",
			`{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` + ts + `,"labels":["x"],"pattern":"alert tcp any any -> any any","pattern_type":"snort","valid_from":"2017-01-01T00:00:00Z"}`,
			map[string]any{"pattern_type": "snort", "indicator_types": []any{"x"}},
			[]string{"labels"}, []Conversion{ConvSpecVersion, ConvIndicatorTypes}},
		{"malware",
			`{"type":"malware","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` + ts + `,"labels":["ransomware"],"name":"Conti"}`,
			map[string]any{"malware_types": []any{"ransomware"}, "is_family": true},
			[]string{"labels"}, []Conversion{ConvSpecVersion, ConvMalwareTypes, ConvIsFamily}},
		{"tool",
			`{"type":"tool","id":"tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` + ts + `,"labels":["remote-access"],"name":"AnyDesk"}`,
			map[string]any{"tool_types": []any{"remote-access"}}, []string{"labels"}, []Conversion{ConvSpecVersion, ConvToolTypes}},
		{"threat-actor",
			`{"type":"threat-actor","id":"threat-actor--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` + ts + `,"labels":["crime-syndicate"],"name":"X"}`,
			map[string]any{"threat_actor_types": []any{"crime-syndicate"}}, []string{"labels"}, []Conversion{ConvSpecVersion, ConvThreatActorTypes}},
		{"report",
			`{"type":"report","id":"report--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` + ts + `,"labels":["threat-report"],"name":"R","published":"2017-01-01T00:00:00Z","object_refs":["malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}`,
			map[string]any{"report_types": []any{"threat-report"}}, []string{"labels"}, []Conversion{ConvSpecVersion, ConvReportTypes}},
		{"relationship keeps labels",
			`{"type":"relationship","id":"relationship--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` + ts + `,"labels":["a"],"relationship_type":"uses","source_ref":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","target_ref":"tool--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`,
			map[string]any{"labels": []any{"a"}, "spec_version": "2.1"}, nil, []Conversion{ConvSpecVersion}},
		{"spec_version 2.0 stated",
			`{"type":"identity","spec_version":"2.0","id":"identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` + ts + `,"name":"ACME","identity_class":"organization"}`,
			map[string]any{"spec_version": "2.1"}, nil, []Conversion{ConvSpecVersion}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, conv, err := Convert20([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got := decode(t, out)
			for k, v := range tc.want {
				if g, _ := json.Marshal(got[k]); string(g) != mustJSON(t, v) {
					t.Errorf("%s = %s, want %s", k, g, mustJSON(t, v))
				}
			}
			for _, k := range tc.gone {
				if _, ok := got[k]; ok {
					t.Errorf("%s still present", k)
				}
			}
			if strings.Join(convStrings(conv), ",") != strings.Join(convStrings(tc.conv), ",") {
				t.Errorf("conversions %v, want %v", conv, tc.conv)
			}
		})
	}
}

func TestConvert20LeavesSTIX21Alone(t *testing.T) {
	in := []byte(`{"type":"indicator","spec_version":"2.1","labels":["keep"],"id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`)
	out, conv, err := Convert20(in)
	if err != nil || len(conv) != 0 || string(out) != string(in) {
		t.Fatalf("got %s %v %v", out, conv, err)
	}
	if _, _, err := Convert20([]byte(`[1]`)); err == nil {
		t.Fatal("an array converted")
	}
	if _, _, err := Convert20([]byte(`{"type":"x","spec_version":"3.0"}`)); err == nil {
		t.Fatal("spec_version 3.0 converted")
	}
}

// Real STIX 2.0 content (Unit 42 playbooks, the OASIS library's 2.0 test data):
// after conversion, no object fails validation for a reason the mapping owns.
func TestConvert20RealData(t *testing.T) {
	v, err := stix.NewValidator(stix.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := shareddata.Dir(t, "testdata", "stix", "playbook_viewer", "playbook_json")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no STIX 2.0 test data in %s", dir)
	}
	owned := []string{"spec_version", "indicator_types", "malware_types", "tool_types", "threat_actor_types", "report_types", "is_family", "pattern_type", "STIX 2.0"}
	var converted, valid int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var bundle struct{ Objects []json.RawMessage }
		if err := json.Unmarshal(b, &bundle); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, raw := range bundle.Objects {
			out, conv, err := Convert20(raw)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(conv) > 0 {
				converted++
			}
			if _, err := v.Validate(out); err != nil {
				for _, o := range owned {
					if strings.Contains(err.Error(), o) {
						t.Errorf("%s: converted object invalid for a mapped property: %v\n%.300s", filepath.Base(f), err, out)
					}
				}
				t.Logf("%s: still invalid: %v", filepath.Base(f), err)
				continue
			}
			valid++
		}
	}
	if converted == 0 || valid < converted/2 {
		t.Fatalf("converted %d objects, %d valid afterwards", converted, valid)
	}
	t.Logf("converted %d STIX 2.0 objects; %d validate as 2.1", converted, valid)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func convStrings(c []Conversion) []string {
	s := make([]string, len(c))
	for i, x := range c {
		s[i] = string(x)
	}
	return s
}
