package console_test

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
)

func TestPagesCarrySecurityHeaders(t *testing.T) {
	e := setup(t, options{})
	c := e.client(t)
	for _, path := range []string{"/console/login", "/console/feeds", "/console/nope"} {
		resp, _ := c.get(path)
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Frame-Options %q, X-Content-Type-Options %q", path, resp.Header.Get("X-Frame-Options"), resp.Header.Get("X-Content-Type-Options"))
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, resp.Header.Get("Cache-Control"))
		}
	}
	// Pages have no inline script or style for the CSP to refuse.
	_, body := c.get("/console/login")
	if strings.Contains(body, "<script>") || strings.Contains(body, "style=") || strings.Contains(body, " on") && strings.Contains(body, "onclick") {
		t.Errorf("the login page has inline script or style:\n%s", body)
	}
	resp, js := c.get("/console/static/console.js")
	if resp.StatusCode != http.StatusOK || !strings.Contains(js, "XMLHttpRequest") {
		t.Errorf("console.js: %s", resp.Status)
	}
}

func TestLoginSessionCookieAndLogout(t *testing.T) {
	e := setup(t, options{})
	c := e.client(t)
	if resp, _ := c.get("/console/feeds"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
		t.Fatalf("feeds without a session: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	_, body := c.get("/console/login")
	resp, _ := c.post("/console/login", url.Values{"csrf": {csrf(t, body)}, "key": {e.admin}})
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "taxii_console" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure || session.MaxAge <= 0 {
		t.Fatalf("session cookie over plain HTTP: %+v", session)
	}
	if strings.Contains(session.Value, e.admin) || strings.Contains(session.Value, e.admin[40:]) {
		t.Fatal("the session cookie holds the key")
	}
	_, body = c.get("/console/feeds")
	token := csrf(t, body)
	// The key is nowhere in the logs.
	for _, entry := range e.logs.All() {
		for _, f := range entry.Context {
			if strings.Contains(f.String, e.admin) || strings.Contains(entry.Message, e.admin) {
				t.Fatalf("the key is in the log: %v", entry)
			}
		}
	}
	if resp, _ := c.post("/console/logout", url.Values{"csrf": {token}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", resp.Status)
	}
	if resp, _ := c.get("/console/feeds"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("feeds after logout: %s", resp.Status)
	}
	// The logged-out cookie, replayed, is refused.
	replay := e.client(t)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/console/feeds", nil)
	req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
	if resp, _ := replay.do(req); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a logged-out session cookie replayed: %s", resp.Status)
	}
}

func TestSecureCookieBehindTLSProxy(t *testing.T) {
	e := setup(t, options{proxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	c := e.client(t)
	_, body := c.get("/console/login")
	resp, _ := c.post("/console/login", url.Values{"csrf": {csrf(t, body)}, "key": {e.admin}}, "X-Forwarded-Proto", "https")
	for _, ck := range resp.Cookies() {
		if ck.Name == "taxii_console" && ck.Secure {
			return
		}
	}
	t.Fatalf("no Secure session cookie behind a trusted proxy that says https: %v", resp.Header.Values("Set-Cookie"))
}

func TestLoginRefusals(t *testing.T) {
	e := setup(t, options{})
	c := e.client(t)
	_, body := c.get("/console/login")
	token := csrf(t, body)
	for name, tc := range map[string]struct {
		form   url.Values
		status int
		want   string
	}{
		"no token":      {url.Values{"key": {e.admin}}, http.StatusForbidden, "did not come from this console"},
		"wrong token":   {url.Values{"key": {e.admin}, "csrf": {"x" + token}}, http.StatusForbidden, "did not come from this console"},
		"not a key":     {url.Values{"key": {"hello"}, "csrf": {token}}, http.StatusUnauthorized, "not an active API key"},
		"read-only key": {url.Values{"key": {e.reader}, "csrf": {token}}, http.StatusForbidden, "not an admin key"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := c.post("/console/login", tc.form)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("%s, want %d with %q:\n%s", resp.Status, tc.status, tc.want, body)
			}
			for _, ck := range resp.Cookies() {
				if ck.Name == "taxii_console" && ck.Value != "" {
					t.Fatal("a refused login got a session")
				}
			}
		})
	}
}

func TestLoginAttemptsAreRateLimited(t *testing.T) {
	e := setup(t, options{loginAttempts: 3})
	c := e.client(t)
	_, body := c.get("/console/login")
	token := csrf(t, body)
	for i := range 3 {
		if resp, _ := c.post("/console/login", url.Values{"key": {"wrong"}, "csrf": {token}}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %s", i+1, resp.Status)
		}
	}
	resp, body := c.post("/console/login", url.Values{"key": {e.admin}, "csrf": {token}})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many login attempts") {
		t.Fatalf("attempt 4, with the right key: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
}

func TestFormPostWithoutCSRFTokenIsRefused(t *testing.T) {
	e := setup(t, options{})
	c := e.client(t)
	token := c.login(e.admin)
	before, _ := e.st.ListFeeds(t.Context())
	for name, form := range map[string]url.Values{
		"none":  {"title": {"sneaky"}},
		"wrong": {"title": {"sneaky"}, "csrf": {token[1:] + "A"}},
	} {
		resp, body := c.post("/console/feeds", form)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "did not come from this console") {
			t.Errorf("%s token: %s", name, resp.Status)
		}
	}
	if resp, _ := c.post("/console/keys", url.Values{"name": {"sneaky"}, "role": {"admin"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("key create without token: %s", resp.Status)
	}
	after, _ := e.st.ListFeeds(t.Context())
	keys, _ := e.st.ListKeys(t.Context())
	if len(after) != len(before) || len(keys) != 2 {
		t.Fatalf("refused posts stored something: %d feeds (was %d), %d keys", len(after), len(before), len(keys))
	}
	// The same form with the token goes through.
	if resp, _ := c.post("/console/feeds", url.Values{"title": {"fine"}, "csrf": {token}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("with the token: %s", resp.Status)
	}
}

func TestBadFeedInputShowsTheErrorAndStoresNothing(t *testing.T) {
	e := setup(t, options{})
	c := e.client(t)
	token := c.login(e.admin)
	for name, tc := range map[string]struct {
		form  url.Values
		field string
	}{
		"no title":       {url.Values{"title": {""}}, "title"},
		"bad tlp":        {url.Values{"title": {"x"}, "tlp": {"purple"}}, "tlp"},
		"bad type":       {url.Values{"title": {"x"}, "types": {"indicatr"}}, "types"},
		"bad confidence": {url.Values{"title": {"x"}, "min-confidence": {"101"}}, "min-confidence"},
		"bad creator":    {url.Values{"title": {"x"}, "created-by": {"someone"}}, "created-by"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.form.Set("csrf", token)
			resp, body := c.post("/console/feeds", tc.form)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="e-`+tc.field+`"`) {
				t.Fatalf("%s; want 422 with the error next to %s:\n%s", resp.Status, tc.field, body)
			}
		})
	}
	feeds, _ := e.st.ListFeeds(t.Context())
	if len(feeds) != 1 {
		t.Fatalf("%d feeds after refused forms, want the default only", len(feeds))
	}
	resp, body := c.post("/console/keys", url.Values{"csrf": {token}, "name": {" "}, "role": {"admin"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="e-name"`) {
		t.Fatalf("key without a name: %s", resp.Status)
	}
	if keys, _ := e.st.ListKeys(t.Context()); len(keys) != 2 {
		t.Fatalf("%d keys after a refused form", len(keys))
	}
}

func TestRevokedKeyEndsItsSession(t *testing.T) {
	e := setup(t, options{})
	c := e.client(t)
	c.login(e.admin)
	keys, _ := e.st.ListKeys(t.Context())
	for _, k := range keys {
		if k.Role == store.RoleAdmin {
			if err := e.st.RevokeKey(t.Context(), k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if resp, _ := c.get("/console/feeds"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a session of a revoked key: %s", resp.Status)
	}
}

// multipartBody is an import form: fields in order, then the file.
func multipartBody(t *testing.T, fields [][2]string, file string) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", "bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write([]byte(file))
	_ = mw.Close()
	return &b, mw.FormDataContentType()
}

func TestImportFormWithoutJavaScript(t *testing.T) {
	e := setup(t, options{})
	c := e.client(t)
	token := c.login(e.admin)
	bundle := `{"type":"bundle","id":"bundle--6a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01","objects":[` +
		`{"type":"malware","spec_version":"2.1","id":"malware--1a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01","created":"2026-02-01T00:00:00.000Z","modified":"2026-02-01T00:00:00.000Z","name":"x","is_family":false}]}`
	post := func(fields [][2]string) (*http.Response, string) {
		body, ct := multipartBody(t, fields, bundle)
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/console/import", body)
		req.Header.Set("Content-Type", ct)
		return c.do(req)
	}
	// The token must come first: without it, or wrong, nothing of the file is read.
	for name, fields := range map[string][][2]string{
		"no token":          {{"source", "upload"}},
		"wrong token":       {{"csrf", "nope"}, {"source", "upload"}},
		"token after field": {{"source", "upload"}, {"csrf", token}},
	} {
		if resp, _ := post(fields); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s", name, resp.Status)
		}
	}
	srcs, _ := e.st.ListSources(t.Context())
	for _, s := range srcs {
		if s.Source == "upload" {
			t.Fatal("a refused import stored objects")
		}
	}
	resp, body := post([][2]string{{"csrf", token}, {"source", "upload"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "imported 1, unchanged 0, conflicting 0, rejected 0") {
		t.Fatalf("import: %s\n%s", resp.Status, body)
	}
	srcs, _ = e.st.ListSources(t.Context())
	if !slices.ContainsFunc(srcs, func(s store.SourceCount) bool { return s.Source == "upload" && s.Objects == 1 }) {
		t.Fatalf("sources after import: %v", srcs)
	}
	// A feed limits what an import takes: the malware is not in an indicator feed.
	resp, _ = c.post("/console/feeds", url.Values{"csrf": {token}, "title": {"iocs"}, "types": {"indicator"}})
	id := strings.TrimSuffix(strings.TrimPrefix(resp.Header.Get("Location"), "/console/feeds/"), "?saved=created")
	resp, body = post([][2]string{{"csrf", token}, {"source", "upload"}, {"feed", id}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "imported 0, unchanged 0, conflicting 0, rejected 1") {
		t.Fatalf("import into an indicator feed: %s\n%s", resp.Status, body)
	}
}

func TestUsageHighlightsConsumersThatStoppedPolling(t *testing.T) {
	e := setup(t, options{})
	keys, _ := e.st.ListKeys(t.Context())
	for _, k := range keys {
		if k.Name == "reader" {
			if err := e.st.TouchKey(t.Context(), k.ID, time.Now().Add(-72*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := e.client(t)
	c.login(e.admin)
	resp, body := c.get("/console/usage")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("usage: %s", resp.Status)
	}
	if !strings.Contains(body, `<tr class="stale" data-key="reader">`) || !strings.Contains(body, "1 consumer(s) stopped polling") {
		t.Fatalf("the reader that stopped polling is not highlighted:\n%s", body)
	}
	if strings.Contains(body, `class="stale" data-key="console-admin"`) {
		t.Fatal("the admin key, in use now, is highlighted")
	}
	if !strings.Contains(body, `<svg class="chart" role="img"`) {
		t.Fatal("no chart")
	}
}

// A feed whose entries are still being gathered says so on its page, and no
// longer once they are.
func TestFeedPageSaysWhileItIsBuilt(t *testing.T) {
	e := setup(t, options{storeLimits: store.Limits{FeedBuildStep: 1, FeedBuildAtOnce: time.Nanosecond}})
	c := e.client(t)
	c.login(e.admin)
	var objs []store.Object
	for n := range 300 {
		id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n)
		raw := `{"type":"indicator","spec_version":"2.1","id":"` + id + `","created":"2026-01-02T03:04:05.000Z","modified":"2026-01-02T03:04:05.000Z","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2026-01-02T03:04:05Z"}`
		objs = append(objs, store.Object{ID: id, Type: "indicator", SpecVersion: "2.1", Created: "2026-01-02T03:04:05.000Z", Modified: "2026-01-02T03:04:05.000Z", Raw: []byte(raw)})
	}
	if _, err := e.st.AddObjects(t.Context(), objs); err != nil {
		t.Fatal(err)
	}
	f := storetest.InterruptedBuild(t, e.st, store.Feed{ID: "7c0e0f00-0000-4000-8000-0000000000e1", Title: "unmarked",
		Filter: store.FeedFilter{TLP: []store.TLP{store.TLPNone}}})
	if resp, body := c.get("/console/feeds/" + f.ID); resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="building"`) {
		t.Fatalf("the page of a feed being built: %s; want it to say so:\n%s", resp.Status, body)
	}
	if err := e.st.FinishFeedBuilds(t.Context()); err != nil {
		t.Fatal(err)
	}
	if resp, body := c.get("/console/feeds/" + f.ID); resp.StatusCode != http.StatusOK || strings.Contains(body, `id="building"`) {
		t.Fatalf("the page of the built feed: %s; want no building notice:\n%s", resp.Status, body)
	}
}
