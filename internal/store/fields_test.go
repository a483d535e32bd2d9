package store

import (
	"slices"
	"testing"
)

const sampleIndicator = `{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001",` +
	`"created":"2024-01-02T03:04:05.678Z","modified":"2024-01-02T03:04:05.678Z","name":"Malicious IP 1",` +
	`"description":"Observed in a phishing campaign targeting finance; blocks recommended at the perimeter.",` +
	`"indicator_types":["malicious-activity"],"pattern":"[ipv4-addr:value = '198.51.0.1']","pattern_type":"stix",` +
	`"valid_from":"2024-01-02T03:04:05Z","valid_until":"2025-01-02T03:04:05.5Z","revoked":true,"labels":["phishing","finance"],` +
	`"confidence":80,"created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",` +
	`"x_inthreat_sources_refs":["identity--00000000-0000-4000-8000-00000000000b"],` +
	`"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da","marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]}`

func TestExtractFields(t *testing.T) {
	f := ExtractFields([]byte(sampleIndicator))
	if ResolveTLP(f.MarkingRefs, nil) != TLPAmber || f.Confidence != 80 || !f.Revoked ||
		!slices.Equal(f.Labels, []string{"phishing", "finance"}) ||
		!slices.Equal(f.Creators, []string{"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff", "identity--00000000-0000-4000-8000-00000000000b"}) ||
		f.ValidUntil != 1735787045500000 {
		t.Errorf("ExtractFields = %+v", f)
	}
	// Wrong JSON types are absent, not errors.
	f = ExtractFields([]byte(`{"type":"x-thing","confidence":"high","labels":"a","revoked":"yes","valid_until":3}`))
	if f.Confidence != -1 || f.Labels != nil || f.Revoked || f.ValidUntil != 0 {
		t.Errorf("ExtractFields of odd types = %+v", f)
	}
	// Spacing, escapes and nesting as any JSON writer may produce them.
	f = ExtractFields([]byte(" {\n \"x\" : {\"labels\": [\"no\"]}, \"labels\" : [ \"a\" , \"b\\\"c\", \"\" ] ,\"confidence\":1e1,\"revoked\" : false}"))
	if !slices.Equal(f.Labels, []string{"a", `b"c`}) || f.Confidence != 10 || f.Revoked {
		t.Errorf("ExtractFields of spaced JSON = %+v", f)
	}
	// A number or boolean as the last member, just before the closing brace.
	if f := ExtractFields([]byte(`{"type":"indicator","revoked":true}`)); !f.Revoked {
		t.Errorf("revoked last: %+v", f)
	}
	if f := ExtractFields([]byte(`{"type":"indicator","x":{"a":1},"confidence":90 }`)); f.Confidence != 90 {
		t.Errorf("confidence last: %+v", f)
	}
	md := ExtractFields([]byte(`{"type":"marking-definition","definition_type":"tlp","definition":{"tlp":"white"}}`))
	md2 := ExtractFields([]byte(`{"type":"marking-definition","extensions":{"` + TLPExtension + `":{"tlp_2_0":"amber+strict"}}}`))
	if md.DefinesTLP != TLPClear || md2.DefinesTLP != TLPAmberStrict {
		t.Errorf("DefinesTLP = %d, %d", md.DefinesTLP, md2.DefinesTLP)
	}
}

// BenchmarkExtractFields is the per-version cost that feed filters add to ingest.
func BenchmarkExtractFields(b *testing.B) {
	raw := []byte(sampleIndicator)
	for b.Loop() {
		ExtractFields(raw)
	}
}
