package console_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// screenshots is the git-ignored folder the browser test saves a PNG of every page into.
const screenshots = "testdata/screenshots"

// browser starts headless Chromium (the Debian package chromium) for one test. The
// network of CI is closed: every flag that makes Chromium call home is set, and the
// profile is a fresh folder. Under CI a missing Chromium fails the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Chromium: install the Debian package chromium (.ci/run does)")
		}
		t.Skip("no Chromium (apt-get install chromium); CI fails here instead")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser; it must not carry a timeout (chromedp.Run).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// tab runs browser steps with a deadline, failing the test on error.
type tab struct {
	t   *testing.T
	ctx context.Context
	e   *env
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *tab) value(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return s
}

func (b *tab) eval(expr string) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return ok
}

// fill sets a field's value as typing would end, firing its input event: one
// round trip, where typing sends an event per character.
func (b *tab) fill(sel, value string) {
	b.t.Helper()
	if !b.eval(`(function(){ const el = document.querySelector(` + jsString(sel) + `); if (!el) return false;
		el.focus(); el.value = ` + jsString(value) + `; el.dispatchEvent(new Event("input", {bubbles: true})); return true })()`) {
		b.t.Fatalf("no field %s", sel)
	}
}

func (b *tab) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.e.srv.URL+path), chromedp.WaitReady(chromedp.CSS("main h1")))
}

// shot saves the page as name.png and fails on a blank page, an error page
// (unless allowed) or a page without a heading.
func (b *tab) shot(name string, errorPage bool) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png0, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(screenshots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshots, name+".png"), png0, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if blank(b.t, png0) {
		b.t.Fatalf("%s: the page is blank", name)
	}
	if b.eval(`!document.querySelector("main h1") || document.querySelector("main h1").textContent.trim() === ""`) {
		b.t.Fatalf("%s: the page has no heading", name)
	}
	if isError := b.eval(`document.getElementById("error-message") !== null`); isError != errorPage {
		b.t.Fatalf("%s: error page %v, want %v: %s", name, isError, errorPage, b.text("main"))
	}
}

// blank reports whether every pixel of a PNG has one colour.
func blank(t *testing.T, b []byte) bool {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	r := img.Bounds()
	first := img.At(r.Min.X, r.Min.Y)
	for y := r.Min.Y; y < r.Max.Y; y += 3 {
		for x := r.Min.X; x < r.Max.X; x += 3 {
			if img.At(x, y) != first {
				return false
			}
		}
	}
	return true
}

var _ image.Image

// poll reads a feed over TAXII with key, as Sentinel does: the status and body.
func poll(t *testing.T, e *env, feedID, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+config.Default().APIRootPath+"collections/"+feedID+"/objects/", nil)
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	req.SetBasicAuth("sentinel", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConsoleInBrowser drives the console as a user would, in headless Chromium:
// log in, create a feed with filters (a refused form first), create a key and see
// it once, poll the feed with it over TAXII, see the poll on the usage page, import
// a file and see its job, search the intelligence, rotate the key (a refused grace
// first; both secrets poll within the grace), revoke it (its next poll is 401), log out.
func TestConsoleInBrowser(t *testing.T) {
	e := setup(t, options{})
	b := &tab{t: t, ctx: browser(t), e: e}

	// Log in.
	b.open("/console/login")
	b.shot("login", false)
	b.fill("#key", e.admin)
	b.do("log in",
		chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#api-root")))
	b.shot("feeds", false)

	// A refused feed form: the error next to its field, nothing stored.
	b.open("/console/feeds/new")
	b.shot("feed-new", false)
	b.fill("#f-title", "Sentinel IOCs")
	b.fill("#f-types", "indicatr")
	b.do("refused feed",
		chromedp.Click(chromedp.CSS("#feed-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#e-types")))
	if msg := b.text("#e-types"); !strings.Contains(msg, "did you mean") {
		t.Fatalf("the error next to types: %q", msg)
	}
	b.shot("feed-refused", false)
	if feeds, _ := e.st.ListFeeds(t.Context()); len(feeds) != 1 {
		t.Fatalf("a refused form stored a feed: %d feeds", len(feeds))
	}

	// The corrected form, with a live count, then filters.
	b.fill("#f-types", "indicator")
	b.do("live count",
		chromedp.Poll[chromedp.Void](`document.getElementById("live-count").textContent.includes("Matching objects now: 1")`, chromedp.WithPollingTimeout(10*time.Second)))
	b.fill("#f-labels", "malicious-activity")
	b.do("live count of filters served from an index",
		chromedp.Click(chromedp.CSS("#tlp-none")),
		chromedp.Click(chromedp.CSS("#f-exclude-revoked")),
		chromedp.Poll[chromedp.Void](`document.getElementById("live-count").textContent.includes("Matching objects now: 1") &&
			document.getElementById("live-count").textContent.includes("labelled malicious-activity")`, chromedp.WithPollingTimeout(10*time.Second)))
	b.fill("#f-min-confidence", "50")
	b.do("no match: the indicator has no confidence",
		chromedp.Poll[chromedp.Void](`document.getElementById("live-count").textContent.includes("Matching objects now: 0")`, chromedp.WithPollingTimeout(10*time.Second)))
	b.fill("#f-min-confidence", "")
	b.do("create feed",
		chromedp.Click(chromedp.CSS("#feed-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#collection-id")))
	b.shot("feed", false)
	feedID := b.value("#collection-id")
	if root := b.value("#api-root"); root != e.srv.URL+config.Default().APIRootPath {
		t.Fatalf("API root URL %q", root)
	}
	if n := b.text("#saved-count"); n != "1" {
		t.Fatalf("the feed holds %s objects, want 1", n)
	}
	f, err := e.st.GetFeed(t.Context(), feedID)
	if err != nil || len(f.Filter.Types) != 1 || len(f.Filter.Labels) != 1 || len(f.Filter.TLP) != 1 || !f.Filter.ExcludeRevoked {
		t.Fatalf("stored feed %+v, %v", f, err)
	}

	// A key, shown once.
	b.open("/console/keys")
	b.shot("keys", false)
	b.fill("#f-name", "sentinel")
	b.do("create key",
		chromedp.Click(chromedp.CSS(`input[name=feeds][value="`+feedID+`"]`)),
		chromedp.Click(chromedp.CSS("main form.card button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#created-key")))
	b.shot("key-created", false)
	key := b.value("#created-key")
	if !strings.HasPrefix(key, "tk_") {
		t.Fatalf("created key %q", key)
	}
	b.open("/console/keys")
	if b.eval(`document.body.innerHTML.includes(` + jsString(key) + `)`) {
		t.Fatal("the key is shown again")
	}

	// Poll the feed with it over TAXII.
	if status, body := poll(t, e, feedID, key); status != http.StatusOK || !strings.Contains(body, indicatorID) {
		t.Fatalf("poll: %d %s", status, body)
	}

	// The poll on the usage page, once the aggregator has flushed.
	if err := e.tally.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.open("/console/usage")
	b.shot("usage", false)
	if polls := b.text(`tr[data-key="sentinel"] td.polls`); polls != "1" {
		t.Fatalf("the usage page shows %s polls by sentinel, want 1", polls)
	}
	if feeds := b.text(`tr[data-key="sentinel"] td:nth-child(4)`); feeds != "Sentinel IOCs" {
		t.Fatalf("the usage page shows sentinel polled %q", feeds)
	}
	if last := b.text(`tr[data-key="sentinel"] td:last-child`); last == "never" {
		t.Fatal("the usage page does not show the last poll")
	}
	if !b.eval(`document.querySelectorAll('tr[data-key="sentinel"] svg rect[height]:not([height="0"])').length === 1`) {
		t.Fatal("the chart has no bar for today's poll")
	}

	// Import a file, with progress.
	file := filepath.Join(t.TempDir(), "bundle.json")
	bundle := `{"type":"bundle","id":"bundle--6a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01","objects":[` +
		`{"type":"indicator","spec_version":"2.1","id":"indicator--1a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01","created":"2026-02-01T00:00:00.000Z","modified":"2026-02-01T00:00:00.000Z","pattern":"[domain-name:value = 'evil.example.com']","pattern_type":"stix","valid_from":"2026-02-01T00:00:00Z"},` +
		`{"type":"indicator","id":"indicator--2a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01"}]}`
	if err := os.WriteFile(file, []byte(bundle), 0o600); err != nil {
		t.Fatal(err)
	}
	b.open("/console/import")
	b.do("import",
		chromedp.SetUploadFiles(chromedp.CSS("#f-file"), []string{file}),
		chromedp.Click(chromedp.CSS("#import-form button[type=submit]")),
		chromedp.Poll[chromedp.Void](`document.getElementById("import-status").textContent.includes("imported 1, unchanged 0, conflicting 0, rejected 1")`, chromedp.WithPollingTimeout(15*time.Second)))
	b.shot("import", false)
	if !b.eval(`document.querySelector("#import-status a") !== null`) {
		t.Fatal("the import's status does not link to its job")
	}

	// The import's job, newest in the list, and its page with the rejected object.
	b.open("/console/import")
	first := `#import-jobs tbody tr:first-child`
	if row := b.text(first); !strings.Contains(row, "done") || !strings.Contains(row, "imported 1, unchanged 0, conflicting 0, rejected 1") || !strings.Contains(row, "console-admin") {
		t.Fatalf("the newest import job: %q", row)
	}
	b.shot("import-jobs", false)
	b.do("import job",
		chromedp.Click(chromedp.CSS(first+" a")),
		chromedp.WaitVisible(chromedp.CSS("#job-line-list")))
	if lines := b.text("#job-line-list"); !strings.Contains(lines, "STIX 2.0") {
		t.Fatalf("the job's lines: %q", lines)
	}
	b.shot("import-job", false)

	// Search the intelligence by observable value, then the object's versions.
	b.open("/console/objects")
	b.fill("#q", "EVIL.example.com")
	b.do("search",
		chromedp.Click(chromedp.CSS("form.search button")),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="indicator--1a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01"]`)))
	b.shot("search", false)
	b.do("versions",
		chromedp.Click(chromedp.CSS(`a[href$="indicator--1a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01"]`)),
		chromedp.WaitVisible(chromedp.CSS("section.version pre")))
	b.shot("object", false)

	b.open("/console/sources")
	b.shot("sources", false)
	if !strings.Contains(b.text("main"), "seed") {
		t.Fatal("the sources page does not list the seed source")
	}

	// Rotate the key: a grace past the maximum is refused next to its field, then
	// a new secret with the same id; both secrets poll within the grace.
	keyID := ""
	keys, _ := e.st.ListKeys(t.Context())
	for _, k := range keys {
		if k.Name == "sentinel" {
			keyID = k.ID
		}
	}
	b.open("/console/keys")
	b.fill("#grace-"+keyID, "9999h")
	b.do("refused rotation",
		chromedp.Click(chromedp.CSS(`button[aria-label="Rotate key sentinel"]`)),
		chromedp.WaitVisible(chromedp.CSS("#e-grace")))
	if msg := b.text("#e-grace"); !strings.Contains(msg, "must be between 0 and") {
		t.Fatalf("the error next to the grace: %q", msg)
	}
	b.shot("key-rotate-refused", false)
	if status, _ := poll(t, e, feedID, key); status != http.StatusOK {
		t.Fatalf("poll after a refused rotation: %d", status)
	}
	b.fill("#grace-"+keyID, "2h")
	b.do("rotate",
		chromedp.Click(chromedp.CSS(`button[aria-label="Rotate key sentinel"]`)),
		chromedp.WaitVisible(chromedp.CSS("#created-key")))
	b.shot("key-rotated", false)
	fresh := b.value("#created-key")
	if fresh == key || !strings.HasPrefix(fresh, "tk_") || b.text("#rotated-id") != keyID || b.text("#old-until") == "" {
		t.Fatalf("rotation: secret %q (was %q), id %q (want %s), old secret until %q", fresh, key, b.text("#rotated-id"), keyID, b.text("#old-until"))
	}
	for name, k := range map[string]string{"new": fresh, "old": key} {
		if status, body := poll(t, e, feedID, k); status != http.StatusOK || !strings.Contains(body, indicatorID) {
			t.Fatalf("poll with the %s secret: %d %s", name, status, body)
		}
	}

	// Revoke the key; its next poll is 401.
	b.open("/console/keys")
	b.do("revoke",
		chromedp.Click(chromedp.CSS(`button[aria-label="Revoke key sentinel"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	b.shot("key-revoked", false)
	for _, k := range []string{key, fresh} {
		if status, _ := poll(t, e, feedID, k); status != http.StatusUnauthorized {
			t.Fatalf("poll with the revoked key: %d", status)
		}
	}

	// An unknown page is an error page, and says so.
	b.open("/console/feeds/00000000-0000-4000-8000-000000000000")
	b.shot("not-found", true)

	// Log out: the console is closed again.
	b.open("/console/feeds")
	b.do("log out",
		chromedp.Click(chromedp.CSS("header form.logout button")),
		chromedp.WaitVisible(chromedp.CSS("#key")))
	b.open("/console/feeds")
	if !b.eval(`location.pathname === "/console/login"`) {
		t.Fatal("the console is still open after logout")
	}
	b.shot("logged-out", false)
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
