package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestHelp: the top-level help lists the commands; each command's help shows its own
// flags and the settings it reads, not every server setting; all exit 0 (nil error).
func TestHelp(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	for _, tc := range []struct {
		args         []string
		want, absent []string
	}{
		{[]string{"--help"}, []string{"Commands:", "serve", "feed create", "key revoke", "validate"}, []string{"--max-page-size"}},
		{[]string{"-h"}, []string{"Commands:", "import"}, nil},
		{[]string{"help"}, []string{"Commands:"}, nil},
		{[]string{"feed", "--help"}, []string{"create --title", "list [--json]", "delete"}, []string{"--listen"}},
		{[]string{"key", "-h"}, []string{"create --name", "revoke ID|NAME"}, []string{"--listen"}},
		{[]string{"feed", "create", "--help"}, []string{"-title", "-alias", "-writable", "--database-url (TAXII_DATABASE_URL)"},
			[]string{"--listen", "--max-page-size", "--tls-cert"}},
		{[]string{"key", "list", "--help"}, []string{"-json", "--data-dir"}, []string{"--listen"}},
		{[]string{"import", "--help"}, []string{"-collection", "--max-json-depth"}, []string{"--listen"}},
		{[]string{"serve", "--help"}, []string{"--listen (TAXII_LISTEN)", "--max-page-size"}, nil},
		{[]string{"healthcheck", "--help"}, []string{"--listen"}, []string{"--database-url"}},
		{[]string{"validate", "--help"}, []string{"-strict"}, nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, _, err := b.run(context.Background(), "", tc.args...)
			if err != nil {
				t.Fatalf("exit with %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q:\n%s", w, out)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(out, a) {
					t.Errorf("help shows %q:\n%s", a, out)
				}
			}
		})
	}
	// feed create's own --title comes early, not after 60 lines of settings.
	out, _, _ := b.run(context.Background(), "", "feed", "create", "--help")
	if i := strings.Index(out, "-title"); i < 0 || strings.Count(out[:i], "\n") > 10 {
		t.Errorf("--title is not among the first lines:\n%s", out)
	}
}

// TestMistypedFlag: one line naming the flag and pointing to --help, exit status 2.
func TestMistypedFlag(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"feed", "create", "--titel", "x"}, "titel"},
		{[]string{"serve", "--lissten", ":1"}, "lissten"},
		{[]string{"validate", "--strikt"}, "strikt"},
	} {
		_, stderr, err := b.run(context.Background(), "", tc.args...)
		var ue usageError
		if !errors.As(err, &ue) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "--help") ||
			!strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%v: %v", tc.args, err)
		}
		if stderr != "" {
			t.Errorf("%v also printed %q", tc.args, stderr)
		}
	}
	if _, _, err := b.run(context.Background(), "", "nope"); err == nil || strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("unknown command: %v", err)
	}
}

// TestInvalidSettingsReportedAtOnce: a bad value that fails to parse does not hide
// a bad value that fails validation, nor another that fails to parse.
func TestInvalidSettingsReportedAtOnce(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	b.env["TAXII_MAX_PAGE_SIZE"] = "lots"
	b.env["TAXII_LOG_LEVEL"] = "loud"
	b.env["TAXII_RATE_LIMIT"] = "fast"
	b.env["TAXII_LISTEN"] = "8080"
	_, _, err := b.run(context.Background(), "", "feed", "list")
	if err == nil {
		t.Fatal("started with invalid settings")
	}
	for _, name := range []string{"TAXII_MAX_PAGE_SIZE", "TAXII_LOG_LEVEL", "TAXII_RATE_LIMIT", "TAXII_LISTEN"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

// TestSettingAndFileBoth: NAME and NAME_FILE together are refused, whichever would win.
func TestSettingAndFileBoth(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	file := filepath.Join(t.TempDir(), "url")
	_ = os.WriteFile(file, []byte("sqlite://"+filepath.Join(t.TempDir(), "x.db")), 0o600)
	b.env["TAXII_DATABASE_URL_FILE"] = file
	b.env["TAXII_DATABASE_URL"] = "sqlite://" + filepath.Join(t.TempDir(), "y.db")
	_, _, err := b.run(context.Background(), "", "feed", "list")
	if err == nil || !strings.Contains(err.Error(), "TAXII_DATABASE_URL and TAXII_DATABASE_URL_FILE") {
		t.Fatalf("both set: %v", err)
	}
	delete(b.env, "TAXII_DATABASE_URL")
	b.must("", "feed", "list")
}

// TestUnknownSettingWarned: a TAXII_* variable no setting reads is named on stderr,
// with the setting it probably meant.
func TestUnknownSettingWarned(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	b.env["TAXII_METRICS"] = "1"
	b.env["TAXII_LOG_LEVLE"] = "debug"
	_, stderr, err := b.run(context.Background(), "", "feed", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "unknown setting TAXII_METRICS (did you mean TAXII_METRICS_LISTEN?)") ||
		!strings.Contains(stderr, "unknown setting TAXII_LOG_LEVLE (did you mean TAXII_LOG_LEVEL?)") {
		t.Fatalf("stderr:\n%s", stderr)
	}
	if strings.Contains(stderr, "TAXII_DATA_DIR") {
		t.Fatalf("a known setting was called unknown:\n%s", stderr)
	}
}

// TestListenCheckedBeforeMigrating: a taken port stops serve before the store is created.
func TestListenCheckedBeforeMigrating(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, _, err = b.run(context.Background(), "", "serve", "--listen", ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("serve on a taken port: %v", err)
	}
	if entries, _ := os.ReadDir(b.env["TAXII_DATA_DIR"]); len(entries) != 0 {
		t.Fatalf("the store was created before the listen check: %v", entries)
	}
}

// TestConnectionErrorNamesStep: an unreachable database is reported once, as a failed
// connection to that host, not as a migration error.
func TestConnectionErrorNamesStep(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	b := &binary{t: t, env: map[string]string{"TAXII_DATABASE_URL": "postgres://postgres@" + addr + "/test?connect_timeout=5"}}
	_, _, err = b.run(context.Background(), "", "feed", "list")
	if err == nil {
		t.Fatal("feed list against no database succeeded")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "connect to the database "+addr+"/test: ") || strings.Contains(msg, "migrate") ||
		strings.Count(msg, "refused") != 1 || strings.Contains(msg, "\n") {
		t.Fatalf("error: %q", msg)
	}
}

// TestKeyRevokeByNameOrID: a unique active name revokes; an ambiguous name lists the
// candidates; a revoked key says so; an unknown one says it does not exist.
func TestKeyRevokeByNameOrID(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	b.must("", "key", "create", "--name", "solo")
	b.must("", "key", "create", "--name", "twin")
	b.must("", "key", "create", "--name", "twin", "--role", "admin")
	var keys []keyJSON
	if err := json.Unmarshal([]byte(b.must("", "key", "list", "--json")), &keys); err != nil || len(keys) != 3 {
		t.Fatalf("key list --json: %v %v", err, keys)
	}

	_, stderr, err := b.run(context.Background(), "", "key", "revoke", "solo")
	if err != nil || !strings.Contains(stderr, "revoked key "+keys[0].ID) {
		t.Fatalf("revoke by name: %v %s", err, stderr)
	}
	if _, _, err := b.run(context.Background(), "", "key", "revoke", "solo"); err == nil || !strings.Contains(err.Error(), "already revoked") {
		t.Fatalf("second revoke: %v", err)
	}
	_, _, err = b.run(context.Background(), "", "key", "revoke", "twin")
	if err == nil || !strings.Contains(err.Error(), keys[1].ID) || !strings.Contains(err.Error(), keys[2].ID) || !strings.Contains(err.Error(), "2 active keys") {
		t.Fatalf("ambiguous name: %v", err)
	}
	if _, _, err := b.run(context.Background(), "", "key", "revoke", strings.ToUpper(keys[2].ID)); err != nil {
		t.Fatalf("revoke by id: %v", err)
	}
	// Only one twin is active now, so the name is no longer ambiguous.
	if _, stderr, err := b.run(context.Background(), "", "key", "revoke", "twin"); err != nil || !strings.Contains(stderr, keys[1].ID) {
		t.Fatalf("revoke the last twin by name: %v %s", err, stderr)
	}
	if _, _, err := b.run(context.Background(), "", "key", "revoke", "nobody"); err == nil || !strings.Contains(err.Error(), "no key has the id or name") {
		t.Fatalf("unknown key: %v", err)
	}
	if err := json.Unmarshal([]byte(b.must("", "key", "list", "--json")), &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.RevokedAt == nil {
			t.Errorf("key %s (%s) is still active", k.ID, k.Name)
		}
	}
}

// TestKeyListShowsFeeds: key list names the feeds a key is scoped to by alias or title,
// marks a deleted feed, and feed delete warns about the keys that lose it.
func TestKeyListShowsFeeds(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	iocs := strings.TrimSpace(b.must("", "feed", "create", "--title", "Indicators", "--alias", "iocs"))
	reports := strings.TrimSpace(b.must("", "feed", "create", "--title", "Weekly reports"))
	b.must("", "key", "create", "--name", "sentinel", "--feeds", "iocs,"+reports)
	b.must("", "key", "create", "--name", "everything")

	list := b.must("", "key", "list")
	if !strings.Contains(list, `iocs, "Weekly reports"`) || strings.Contains(list, iocs) || !strings.Contains(list, "(all)") {
		t.Fatalf("key list:\n%s", list)
	}
	_, stderr, err := b.run(context.Background(), "", "feed", "delete", reports)
	if err != nil || !strings.Contains(stderr, "warning: 1 active key(s)") || !strings.Contains(stderr, "sentinel") || strings.Contains(stderr, "everything") {
		t.Fatalf("feed delete: %v\n%s", err, stderr)
	}
	if list := b.must("", "key", "list"); !strings.Contains(list, reports+" (deleted feed)") {
		t.Fatalf("key list after delete:\n%s", list)
	}
	var keys []keyJSON
	if err := json.Unmarshal([]byte(b.must("", "key", "list", "--json")), &keys); err != nil {
		t.Fatal(err)
	}
	got := keys[0].Feeds
	if keys[0].Name != "sentinel" || len(got) != 2 || got[0].Alias != "iocs" || got[0].Title != "Indicators" || got[0].Deleted ||
		got[1].ID != reports || !got[1].Deleted || len(keys[1].Feeds) != 0 {
		t.Fatalf("key list --json: %+v", keys)
	}

	var feeds []feedJSON
	if err := json.Unmarshal([]byte(b.must("", "feed", "list", "--json")), &feeds); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, f := range feeds {
		found = append(found, f.ID)
		if f.ID == reports {
			t.Errorf("feed list --json shows the deleted feed: %+v", feeds)
		}
	}
	if !slices.Contains(found, iocs) {
		t.Fatalf("feed list --json: %+v", feeds)
	}
}
