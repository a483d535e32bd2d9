package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const defaultFeedID = "d6092c37-d8d7-45c3-8aff-c4dc26030608"

// markedBundle makes n indicators whose TLP cycles red, green, amber, none,
// and one identity; ids from first on.
func markedBundle(first, n int) string {
	marks := []string{`"object_marking_refs":["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"],`,
		`"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],`,
		`"object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"],`, ``}
	objs := []string{fmt.Sprintf(`{"type":"identity","spec_version":"2.1","id":"identity--%08d-0000-4000-8000-000000000000",`+
		`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"CERT","identity_class":"organization"}`, first)}
	for i := first; i < first+n; i++ {
		objs = append(objs, fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08d-0000-4000-8000-000000000000",`+
			`"created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z",%s"name":"ip %d",`+
			`"pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`,
			i, marks[i%4], i, i%250))
	}
	return `{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000001","objects":[` + strings.Join(objs, ",") + `]}`
}

// field reads one "name:  value" line of feed show.
func field(t *testing.T, show, name string) string {
	t.Helper()
	for _, line := range strings.Split(show, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("feed show has no %q line:\n%s", name, show)
	return ""
}

func TestFeedCommands(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			ctx := context.Background()

			// The default feed exists from the first command on, and is protected.
			if list := b.must("", "feed", "list"); !strings.Contains(list, defaultFeedID) || !strings.Contains(list, "Default feed") {
				t.Fatalf("feed list on a new store:\n%s", list)
			}
			if _, _, err := b.run(ctx, "", "feed", "delete", defaultFeedID); err == nil || !strings.Contains(err.Error(), "cannot be deleted") {
				t.Errorf("feed delete of the default feed: %v", err)
			}
			if _, _, err := b.run(ctx, "", "feed", "update", defaultFeedID, "--tlp", "red"); err == nil || !strings.Contains(err.Error(), "filter cannot be changed") {
				t.Errorf("feed update --tlp of the default feed: %v", err)
			}
			b.must("", "feed", "update", defaultFeedID, "--title", "Everything")
			if show := b.must("", "feed", "show", defaultFeedID); field(t, show, "title") != "Everything" || field(t, show, "filter") != "every object" {
				t.Errorf("default feed after retitling:\n%s", show)
			}

			file := filepath.Join(t.TempDir(), "bundle.json")
			if err := os.WriteFile(file, []byte(markedBundle(0, 40)), 0o600); err != nil {
				t.Fatal(err)
			}
			b.must("", "import", file)

			// Bad values: a clear error, and nothing stored.
			before := b.must("", "feed", "list")
			for _, c := range []struct {
				args []string
				says string
			}{
				{[]string{"--tlp", "purple"}, `"purple" is not a TLP level`},
				{[]string{"--types", "indicators"}, `did you mean indicator`},
				{[]string{"--exclude-types", "Relationship"}, `not a STIX type name`},
				{[]string{"--min-confidence", "101"}, `0 to 100`},
				{[]string{"--min-confidence", "high"}, `0 to 100`},
				{[]string{"--created-by", "acme"}, `not an identity id`},
				{[]string{"--exclude-revoked=maybe"}, `maybe`},
			} {
				args := append([]string{"feed", "create", "--title", "bad"}, c.args...)
				if _, _, err := b.run(ctx, "", args...); err == nil || !strings.Contains(err.Error(), c.says) {
					t.Errorf("%v: error %v, want one saying %q", c.args, err, c.says)
				}
			}
			if after := b.must("", "feed", "list"); after != before {
				t.Errorf("refused feed create stored something:\n%s", after)
			}

			// --sources selects by provenance: import records "import" unless told otherwise.
			all := field(t, b.must("", "feed", "show", defaultFeedID), "objects")
			b.must("", "feed", "create", "--title", "Imported", "--alias", "imported", "--sources", "import")
			b.must("", "feed", "create", "--title", "MISP", "--alias", "misp", "--sources", "misp")
			if got := field(t, b.must("", "feed", "show", "imported"), "objects"); got != all || all == "0" {
				t.Errorf("--sources import shows %s objects, the store holds %s", got, all)
			}
			if got := field(t, b.must("", "feed", "show", "misp"), "objects"); got != "0" {
				t.Errorf("--sources misp shows %s objects before anything came from misp", got)
			}

			id := strings.TrimSpace(b.must("", "feed", "create", "--title", "Red", "--alias", "red", "--tlp", "red", "--with-context"))
			show := b.must("", "feed", "show", "red")
			// 10 red indicators and the identity.
			if field(t, show, "objects") != "11" || field(t, show, "tlp") != "red" || field(t, show, "with-context") != "true" ||
				field(t, show, "newest date_added") == "(none)" || field(t, show, "id") != id {
				t.Errorf("feed show red:\n%s", show)
			}
			if field(t, show, "filter") != "every object, TLP:RED; with every identity and marking-definition" {
				t.Errorf("filter in words: %q", field(t, show, "filter"))
			}

			// A bad update changes nothing; a good one keeps the id.
			if _, _, err := b.run(ctx, "", "feed", "update", "red", "--tlp", "amber,purple"); err == nil {
				t.Error("feed update --tlp amber,purple succeeded")
			}
			if got := field(t, b.must("", "feed", "show", id), "tlp"); got != "red" {
				t.Errorf("after a refused update tlp = %q", got)
			}
			b.must("", "feed", "update", "red", "--tlp", "amber,green", "--with-context=false", "--types", "indicator")
			show = b.must("", "feed", "show", id)
			if field(t, show, "objects") != "20" || field(t, show, "tlp") != "green,amber" || field(t, show, "alias") != "red" {
				t.Errorf("after feed update:\n%s", show)
			}
		})
	}
}

// TestFilteredFeedOverHTTP serves a filtered feed through the real server: the
// collection describes its filter, pages show only what it selects, and a
// next issued before a filter change keeps working, showing the new filter
// from there on without re-sending earlier objects.
func TestFilteredFeedOverHTTP(t *testing.T) {
	b := binaries(t)["sqlite"](t)
	base, _ := b.serve()
	file := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(file, []byte(markedBundle(0, 80)), 0o600); err != nil {
		t.Fatal(err)
	}
	b.must("", "import", file)
	feed := strings.TrimSpace(b.must("", "feed", "create", "--title", "Red", "--tlp", "red"))
	key := strings.TrimSpace(b.must("", "key", "create", "--name", "sentinel", "--role", "read-only"))
	root := base + "/api/v2/inthreat/taxii-server/collections/"

	resp, body := get(t, root+feed+"/", key)
	var coll struct{ Description string }
	if err := json.Unmarshal(body, &coll); err != nil || resp.StatusCode != 200 || coll.Description != "Shows every object, TLP:RED." {
		t.Fatalf("collection: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, root+defaultFeedID+"/", key)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"title":"Default feed"`) {
		t.Fatalf("default feed collection: %d %s", resp.StatusCode, body)
	}

	page := func(url string) envelope {
		t.Helper()
		resp, body := get(t, url, key)
		var env envelope
		if err := json.Unmarshal(body, &env); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", url, resp.StatusCode, body)
		}
		return env
	}
	first := page(root + feed + "/objects/?limit=5")
	if !first.More || len(first.Objects) != 5 {
		t.Fatalf("first page: more %t, %d objects", first.More, len(first.Objects))
	}
	seen := map[string]int{}
	for _, id := range ids(t, first.Objects) {
		seen[id]++
	}
	// Red is every 4th indicator from 0; the update adds green (every 4th from 1).
	b.must("", "feed", "update", feed, "--tlp", "red,green")
	for env := first; env.More; {
		env = page(root + feed + "/objects/?limit=5&next=" + env.Next)
		for _, id := range ids(t, env.Objects) {
			seen[id]++
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s served %d times", id, n)
		}
		var i int
		fmt.Sscanf(strings.TrimPrefix(id, "indicator--"), "%08d", &i)
		if i%4 != 0 && i%4 != 1 {
			t.Errorf("%s (neither red nor green) served", id)
		}
	}
	// 20 red; green ones after the position of the first page: the 5th red is
	// indicator 16, so greens 17, 21, ..., 77 (16 of them).
	if len(seen) != 36 {
		t.Errorf("served %d objects, want 20 red and the 16 green ones after the poller's position", len(seen))
	}
}
