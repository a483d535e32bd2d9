package console_test

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/feed"
	"github.com/inthreat/taxii-server/internal/store"
)

var createdKeyInput = regexp.MustCompile(`id="created-key" type="text" readonly value="([^"]+)"`)

// createKey makes a read-only key through the console's form and returns its id and secret.
func createKey(t *testing.T, e *env, c *client, token, name string) (string, string) {
	t.Helper()
	resp, body := c.post("/console/keys", url.Values{"csrf": {token}, "name": {name}, "role": {"read-only"}})
	m := createdKeyInput.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusCreated || m == nil {
		t.Fatalf("create key: %s\n%s", resp.Status, body)
	}
	keys, _ := e.st.ListKeys(t.Context())
	for _, k := range keys {
		if k.Name == name {
			return k.ID, m[1]
		}
	}
	t.Fatalf("no stored key %s", name)
	return "", ""
}

// keyRow is the table row of key id on the keys page.
func keyRow(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `data-key-id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no row of key %s:\n%s", id, body)
	}
	row := body[i:]
	return row[:strings.Index(row, "</tr>")]
}

func TestRotateKeyShowsTheNewSecretOnceAndKeepsTheOldOneForTheGrace(t *testing.T) {
	e := setup(t, options{})
	c := e.client(t)
	token := c.login(e.admin)
	id, old := createKey(t, e, c, token, "sentinel")

	// The form offers the server's default grace.
	_, body := c.get("/console/keys")
	if row := keyRow(t, body, id); !strings.Contains(row, `action="/console/keys/`+id+`/rotate"`) || !strings.Contains(row, `name="grace" value="24h"`) {
		t.Fatalf("the key's row has no rotate form with the default grace 24h:\n%s", row)
	}
	if !strings.Contains(body, "at most 168h") {
		t.Fatal("the page does not say the longest grace (TAXII_KEY_ROTATE_MAX_GRACE)")
	}

	before := time.Now()
	resp, body := c.post("/console/keys/"+id+"/rotate", url.Values{"csrf": {token}, "grace": {"2h"}})
	m := createdKeyInput.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || !strings.Contains(body, "New secret for sentinel") {
		t.Fatalf("rotate: %s\n%s", resp.Status, body)
	}
	fresh := m[1]
	if fresh == old || !strings.Contains(body, `id="rotated-id">`+id+`<`) {
		t.Fatalf("rotation: new secret %q (old %q), the key id %s not shown unchanged", fresh, old, id)
	}
	k, err := e.st.GetKey(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if d := k.PrevValidUntil.Sub(before); d < 2*time.Hour || d > 2*time.Hour+time.Minute {
		t.Fatalf("old secret valid until %s, want two hours after %s", k.PrevValidUntil, before)
	}
	until := k.PrevValidUntil.UTC().Format("2006-01-02 15:04 UTC")
	if !strings.Contains(body, `id="old-until">`+until+`<`) {
		t.Fatalf("the page does not say the old secret works until %s:\n%s", until, body)
	}

	// The secret is in that one response only: not in the log.
	for _, entry := range e.logs.All() {
		for _, f := range entry.Context {
			if strings.Contains(f.String, fresh) || strings.Contains(entry.Message, fresh) {
				t.Fatalf("the new secret is in the log: %v", entry)
			}
		}
	}

	// Both secrets poll the default feed over TAXII within the grace.
	for name, key := range map[string]string{"new": fresh, "old": old} {
		if status, _ := poll(t, e, feed.DefaultID, key); status != http.StatusOK {
			t.Fatalf("poll with the %s secret: %d", name, status)
		}
	}

	// The new secret is not shown again; the row says until when the old one works.
	_, body = c.get("/console/keys")
	if strings.Contains(body, fresh) {
		t.Fatal("the new secret is shown again")
	}
	if row := keyRow(t, body, id); !strings.Contains(row, "old secret works until "+until) {
		t.Fatalf("the row does not say until when the old secret works:\n%s", row)
	}

	// A grace of 0s ends the old secret now, and the page says so.
	second := fresh
	resp, body = c.post("/console/keys/"+id+"/rotate", url.Values{"csrf": {token}, "grace": {"0s"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "The old secret no longer works.") {
		t.Fatalf("rotate with 0s: %s\n%s", resp.Status, body)
	}
	if status, _ := poll(t, e, feed.DefaultID, second); status != http.StatusUnauthorized {
		t.Fatalf("poll with the secret replaced with no grace: %d", status)
	}
	if status, _ := poll(t, e, feed.DefaultID, createdKeyInput.FindStringSubmatch(body)[1]); status != http.StatusOK {
		t.Fatalf("poll with the newest secret: %d", status)
	}
}

func TestRotateRefusesAnOutOfRangeGraceNextToTheField(t *testing.T) {
	e := setup(t, options{})
	c := e.client(t)
	token := c.login(e.admin)
	id, old := createKey(t, e, c, token, "sentinel")
	maxGrace := config.Default().KeyRotateMaxGrace
	stored, _ := e.st.GetKey(t.Context(), id)
	for name, tc := range map[string]struct{ grace, want string }{
		"longer than the maximum": {(maxGrace + time.Hour).String(), "must be between 0 and"},
		"negative":                {"-1h", "must be between 0 and"},
		"not a duration":          {"tomorrow", "is not a duration"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := c.post("/console/keys/"+id+"/rotate", url.Values{"csrf": {token}, "grace": {tc.grace}})
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%s, want 422:\n%s", resp.Status, body)
			}
			row := keyRow(t, body, id)
			if !strings.Contains(row, `id="e-grace"`) || !strings.Contains(row, tc.want) || !strings.Contains(row, `value="`+tc.grace+`"`) {
				t.Fatalf("the error %q is not next to the key's grace field, with the value kept:\n%s", tc.want, row)
			}
			if createdKeyInput.MatchString(body) || strings.Count(body, `id="e-grace"`) != 1 {
				t.Fatal("a refused rotation shows a secret, or the error on several forms")
			}
			k, _ := e.st.GetKey(t.Context(), id)
			if !bytes.Equal(k.Hash, stored.Hash) || k.PrevHash != nil || !k.PrevValidUntil.IsZero() {
				t.Fatal("a refused rotation changed the key")
			}
		})
	}
	if status, _ := poll(t, e, feed.DefaultID, old); status != http.StatusOK {
		t.Fatalf("poll with the key after refused rotations: %d", status)
	}

	// A revoked key is not rotated: the page says why.
	resp, _ := c.post("/console/keys/"+id+"/revoke", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %s", resp.Status)
	}
	resp, body := c.post("/console/keys/"+id+"/rotate", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "The key was not rotated") || createdKeyInput.MatchString(body) {
		t.Fatalf("rotate a revoked key: %s\n%s", resp.Status, body)
	}
}

func TestRotateFormNeedsTheCSRFToken(t *testing.T) {
	e := setup(t, options{})
	c := e.client(t)
	token := c.login(e.admin)
	id, old := createKey(t, e, c, token, "sentinel")
	stored, _ := e.st.GetKey(t.Context(), id)
	for name, form := range map[string]url.Values{
		"no token":    {"grace": {"1h"}},
		"wrong token": {"grace": {"1h"}, "csrf": {token[1:] + "A"}},
	} {
		resp, body := c.post("/console/keys/"+id+"/rotate", form)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "did not come from this console") || createdKeyInput.MatchString(body) {
			t.Errorf("%s: %s", name, resp.Status)
		}
	}
	k, _ := e.st.GetKey(t.Context(), id)
	if !bytes.Equal(k.Hash, stored.Hash) || k.PrevHash != nil {
		t.Fatal("a rotation without the token changed the key")
	}
	if status, _ := poll(t, e, feed.DefaultID, old); status != http.StatusOK {
		t.Fatalf("poll after refused rotations: %d", status)
	}
	// The same form with the token rotates.
	if resp, _ := c.post("/console/keys/"+id+"/rotate", url.Values{"grace": {"1h"}, "csrf": {token}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("with the token: %s", resp.Status)
	}
	if k, _ := e.st.GetKey(t.Context(), id); bytes.Equal(k.Hash, stored.Hash) || k.Role != store.RoleReadOnly {
		t.Fatalf("rotation with the token: hash unchanged or role changed (%s)", k.Role)
	}
}
