package stix

import (
	"strings"
	"testing"
)

// hostileCases are objects within the size limit that an unbounded validator
// would spend seconds on; each must cost milliseconds (BenchmarkValidateHostile
// measures it) and be answered with a short reason (TestValidateBoundedWork).
func hostileCases() []struct{ name, raw, reason string } {
	long := strings.Repeat("a", 1<<20)
	const ind = `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z",`
	return []struct{ name, raw, reason string }{
		{"long custom key", ind + `"pattern":"[a:b = 1]","x_` + long + `id":1}`, ""},
		{"long hash key", `{"type":"file","id":"file--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","hashes":{"` + long + `":"x"}}`, "not allowed"},
		{"long selector", ind + `"pattern":"[a:b = 1]","granular_markings":[{"marking_ref":"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da","selectors":["` + long + `"]}]}`, "too long"},
		{"long cpe", `{"type":"software","id":"software--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"x","cpe":"cpe:2.3:a:` + long + `"}`, "too long"},
		{"long language", `{"type":"software","id":"software--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"x","languages":["` + long + `"]}`, "too long"},
		{"long domain", `{"type":"domain-name","id":"domain-name--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","value":"` + long + `"}`, "not a host name"},
		{"long payload", `{"type":"artifact","id":"artifact--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","payload_bin":"` + strings.Repeat("QUJD", 1<<18) + `"}`, ""},
		{"long bad payload", `{"type":"artifact","id":"artifact--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","payload_bin":"a` + long + `"}`, "not padded base64"},
		{"long pattern", ind + `"pattern":"` + strings.Repeat("[a:b = 1] AND ", 50000) + `[a:b = 1]"}`, ""},
		{"deep pattern", ind + `"pattern":"` + strings.Repeat("(", 50000) + `[a:b = 1]` + strings.Repeat(")", 50000) + `"}`, "nested deeper than 100 levels at offset 100"},
		{"long timestamp", ind + `"pattern":"[a:b = 1]","valid_until":"` + long + `"}`, "is not a STIX timestamp"},
		{"long type", `{"type":"` + long + `","id":"x--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`, "does not match the object's type"},
	}
}

// Hostile objects get a short, right reason. Their cost is measured by
// BenchmarkValidateHostile, not timed here: a loaded CI machine makes any
// wall-clock bound flaky.
func TestValidateBoundedWork(t *testing.T) {
	if testing.Short() {
		t.Skip("megabyte inputs")
	}
	def, _ := validators(t)
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			_, err := def.Validate([]byte(tc.raw))
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("want valid: %.300v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("got %.300v, want %q", err, tc.reason)
			}
			if len(err.Error()) > 600 {
				t.Errorf("reason of %d bytes: %.300s", len(err.Error()), err.Error())
			}
		})
	}
}

// BenchmarkValidateHostile reports the cost of each hostile object: it must stay
// in milliseconds (the quadratic or exponential paths these inputs aim at cost
// seconds).
func BenchmarkValidateHostile(b *testing.B) {
	def, _ := validators(b)
	for _, tc := range hostileCases() {
		raw := []byte(tc.raw)
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				_, _ = def.Validate(raw)
			}
		})
	}
}
