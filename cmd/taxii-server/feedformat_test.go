package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestFeedExportFormat: feed create/update --format --template store a feed's default
// export format, checked by the rules of the format parameter, shown by show and list.
func TestFeedExportFormat(t *testing.T) {
	for name, newBinary := range binaries(t) {
		t.Run(name, func(t *testing.T) {
			b := newBinary(t)
			b.env["TAXII_EXPORT_MAX_TEMPLATE_LENGTH"] = "64"
			id := strings.TrimSpace(b.must("", "feed", "create", "--title", "Firewall", "--format", "csv"))
			formats := func() map[string][2]string {
				var feeds []struct{ ID, Format, Template string }
				if err := json.Unmarshal([]byte(b.must("", "feed", "list", "--json")), &feeds); err != nil {
					t.Fatal(err)
				}
				out := map[string][2]string{}
				for _, f := range feeds {
					out[f.ID] = [2]string{f.Format, f.Template}
				}
				return out
			}
			if got := formats(); got[id] != [2]string{"csv", ""} || got[defaultFeedID] != [2]string{"json", ""} {
				t.Errorf("list --json formats: %v", got)
			}
			if list := b.must("", "feed", "list"); !strings.Contains(list, "FORMAT") || !strings.Contains(list, "csv") {
				t.Errorf("feed list:\n%s", list)
			}

			before := b.must("", "feed", "list")
			for _, c := range []struct {
				args []string
				says string
			}{
				{[]string{"--format", "xml"}, `format "xml" is unknown`},
				{[]string{"--format", "custom"}, "needs a template"},
				{[]string{"--format", "custom", "--template", strings.Repeat("$id ", 20)}, "at most 64"},
				{[]string{"--format", "text", "--template", "$id"}, "format=custom only"},
			} {
				if _, _, err := b.run(context.Background(), "", append([]string{"feed", "create", "--title", "Bad"}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.says) {
					t.Errorf("create %v: %v, want %q", c.args, err, c.says)
				}
				if _, _, err := b.run(context.Background(), "", append([]string{"feed", "update", id}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.says) {
					t.Errorf("update %v: %v, want %q", c.args, err, c.says)
				}
			}
			if after := b.must("", "feed", "list"); after != before {
				t.Errorf("a refused command changed the feeds:\n%s", after)
			}

			b.must("", "feed", "update", id, "--format", "custom", "--template", "$name;$observables")
			if show := b.must("", "feed", "show", id); field(t, show, "format") != "custom" || field(t, show, "template") != "$name;$observables" {
				t.Errorf("feed show after update:\n%s", show)
			}
			b.must("", "feed", "update", id, "--format", "text") // the template goes with custom
			if got := formats(); got[id] != [2]string{"text", ""} {
				t.Errorf("after --format text: %v", got[id])
			}
		})
	}
}
