package stix

import (
	"strings"
	"testing"
	"time"
)

// Hostile objects within the size limit must cost milliseconds, not
// seconds, and their reasons must stay short.
func TestValidateBoundedWork(t *testing.T) {
	if testing.Short() {
		t.Skip("megabyte inputs")
	}
	def, _ := validators(t)
	long := strings.Repeat("a", 1<<20)
	const ind = `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z",`
	tests := []struct {
		name, raw, reason string
	}{
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
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := def.Validate([]byte(tc.raw))
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
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
