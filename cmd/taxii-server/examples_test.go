package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleBundle: the README walk-through's bundle is valid STIX 2.1 (strict), imports
// whole on both stores, and an indicator feed serves its four indicators with their markings.
func TestExampleBundle(t *testing.T) {
	file := filepath.Join("..", "..", "examples", "indicators.json")
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			if got := b.must("", "validate", "--strict", file); got != "valid 7, invalid 0\n" {
				t.Fatalf("validate: %q", got)
			}
			base, _ := b.serve()
			feed := strings.TrimSpace(b.must("", "feed", "create", "--title", "Indicators", "--types", "indicator"))
			key := strings.TrimSpace(b.must("", "key", "create", "--name", "sentinel", "--feeds", feed))
			if got := b.must("", "import", file); !strings.HasPrefix(got, "imported 7, unchanged 0, conflicting 0, rejected 0") {
				t.Fatalf("import: %q", got)
			}
			resp, body := get(t, base+"/api/v2/inthreat/taxii-server/collections/"+feed+"/objects/", key)
			var env envelope
			if err := json.Unmarshal(body, &env); err != nil || resp.StatusCode != 200 {
				t.Fatalf("poll: %d %s", resp.StatusCode, body)
			}
			if len(env.Objects) != 4 {
				t.Fatalf("feed served %d objects, want the 4 indicators: %v", len(env.Objects), ids(t, env.Objects))
			}
			for _, o := range env.Objects {
				var v struct {
					Type    string   `json:"type"`
					Marking []string `json:"object_marking_refs"`
				}
				_ = json.Unmarshal(o, &v)
				if v.Type != "indicator" || len(v.Marking) != 1 || !strings.HasPrefix(v.Marking[0], "marking-definition--") {
					t.Errorf("served %s", o)
				}
			}
		})
	}
}
