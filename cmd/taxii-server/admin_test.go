package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAdminAPIAndCLIShareRules runs serve and the CLI on one store: keys made
// and rotated by the CLI work on the admin API, and the audit log read over
// HTTP holds the CLI's actions.
func TestAdminAPIAndCLIShareRules(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			ctx := context.Background()
			key := strings.TrimSpace(b.must("", "key", "create", "--name", "ops", "--role", "admin"))
			rotated := strings.TrimSpace(b.must("", "key", "rotate", "ops", "--grace", "0s"))
			if !strings.HasPrefix(rotated, "tk_") || rotated == key || rotated[:36] != key[:36] {
				t.Fatalf("key rotate printed %q for %q: want a new secret for the same key id", rotated, key)
			}
			if _, _, err := b.run(ctx, "", "key", "rotate", "ops", "--grace", "10000h"); err == nil || !strings.Contains(err.Error(), "grace") {
				t.Errorf("key rotate with a grace above the maximum: %v", err)
			}
			base, _ := b.serve()
			get := func(k, path string) (int, []byte) {
				req, _ := http.NewRequest("GET", base+"/admin/api/v1"+path, nil)
				req.Header.Set("Authorization", "Bearer "+k)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var raw json.RawMessage
				_ = json.NewDecoder(resp.Body).Decode(&raw)
				return resp.StatusCode, raw
			}
			if code, _ := get(key, "/keys"); code != 401 {
				t.Errorf("the secret rotated with --grace 0s: %d, want 401", code)
			}
			code, body := get(rotated, "/audit")
			if code != 200 {
				t.Fatalf("audit with the rotated key: %d %s", code, body)
			}
			var audit struct {
				Items []struct {
					Actor  string `json:"actor"`
					Action string `json:"action"`
				} `json:"items"`
			}
			if err := json.Unmarshal(body, &audit); err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, e := range audit.Items {
				actions = append(actions, e.Actor+":"+e.Action)
			}
			if got := strings.Join(actions, " "); !strings.HasPrefix(got, "cli:key.rotate cli:key.create") {
				t.Errorf("audit log %q: want the CLI's rotate then create, newest first", got)
			}
			if strings.Contains(string(body), rotated[37:]) || strings.Contains(string(body), key[37:]) {
				t.Errorf("a secret is in the audit log: %s", body)
			}
		})
	}
}
