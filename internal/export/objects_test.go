package export_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/store"
)

// TestCursorClientMissesNothingRepeatsNothing is OpenCTI's Sekoia.io connector: it starts
// from a cursor it makes, base64(now - 1 hour), and keeps next_cursor between runs, while
// writers add objects. Every object comes exactly once; an empty page keeps the cursor.
func TestCursorClientMissesNothingRepeatsNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f := setup(t, st, nil)
		cursor := cursorOf(time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04:05.000000") + "Z")
		const writers, batches, per = 3, 8, 5
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range batches {
					var objs []string
					for i := range per {
						n := (w*batches+b)*per + i
						objs = append(objs, indicator(n, fmt.Sprintf("[ipv4-addr:value = '198.51.%d.%d']", n/250, n%250), "stix", ""))
					}
					f.post(t, objs...)
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()

		seen := map[string]int{}
		run := func() int { // one run of the connector: page until a short page
			got := 0
			for {
				p := f.get(t, "reader", f.api+"/collections/"+feedAll+"/objects?limit=7&cursor="+cursor).ok(t).items(t)
				for _, id := range ids(p) {
					seen[id]++
				}
				if p.NextCursor == "" {
					t.Fatal("no next_cursor")
				}
				if len(p.Items) == 0 && p.NextCursor != cursor {
					t.Fatalf("empty page moved the cursor from %q to %q", cursor, p.NextCursor)
				}
				cursor = p.NextCursor
				got += len(p.Items)
				if len(p.Items) < 7 {
					return got
				}
			}
		}
		for finished := false; !finished; {
			select {
			case <-done:
				finished = true
			default:
			}
			run()
		}
		run()
		if n := run(); n != 0 {
			t.Errorf("a run after the last write got %d objects", n)
		}
		if len(seen) != writers*batches*per {
			t.Errorf("saw %d objects, want %d", len(seen), writers*batches*per)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s came %d times", id, n)
			}
		}
	})
}

func TestFeedObjectsFilters(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f := setup(t, st, func(c *config.Config) { c.ExportMaxLimit = 3; c.ExportDefaultLimit = 2 })
		f.post(t,
			indicator(1, "[ipv4-addr:value = '198.51.100.1']", "stix", ""),
			indicator(2, "[ipv4-addr:value = '198.51.100.2']", "stix", `,"revoked":true`),
			indicator(3, "[ipv4-addr:value = '198.51.100.3']", "stix", `,"valid_until":"2024-06-01T00:00:00Z"`),
			malware(4),
			indicator(5, "[ipv4-addr:value = '198.51.100.5']", "stix", `,"valid_until":"2099-06-01T00:00:00Z"`),
		)
		all := f.api + "/collections/" + feedAll + "/objects"
		// Default limit 2; a larger limit is capped at 3; the cursor pages oldest to newest.
		p := f.get(t, "reader", all).ok(t).items(t)
		if got := ids(p); !slices.Equal(got, []string{indicatorID(1), indicatorID(2)}) {
			t.Errorf("default page: %v", got)
		}
		p = f.get(t, "reader", all+"?limit=1000&cursor="+p.NextCursor).ok(t).items(t)
		if len(p.Items) != 3 {
			t.Errorf("capped page has %d items, want 3", len(p.Items))
		}
		p = f.get(t, "reader", all+"?limit=3&include_revoked=false&skip_expired=true").ok(t).items(t)
		if got := ids(p); !slices.Equal(got, []string{indicatorID(1), "malware--00000000-0000-4000-8000-000000000004", indicatorID(5)}) {
			t.Errorf("without revoked and expired: %v", got)
		}
		p = f.get(t, "reader", all+"?limit=3&match[type]=malware").ok(t).items(t)
		if len(p.Items) != 1 || p.Items[0]["type"] != "malware" {
			t.Errorf("match[type]=malware: %v", ids(p))
		}
		p = f.get(t, "reader", all+"?limit=3&match[id]="+indicatorID(5)+","+indicatorID(1)).ok(t).items(t)
		if got := ids(p); !slices.Equal(got, []string{indicatorID(1), indicatorID(5)}) {
			t.Errorf("match[id]: %v", got)
		}
		p = f.get(t, "reader", all+"?modified_after=2030-01-01T00:00:00Z").ok(t).items(t)
		if len(p.Items) != 0 {
			t.Errorf("modified_after 2030: %v", ids(p))
		}
		p = f.get(t, "reader", all+"?limit=3&modified_after=2023-12-31T00:00:00").ok(t).items(t)
		if len(p.Items) != 3 {
			t.Errorf("modified_after 2023 (no zone): %v", ids(p))
		}
		// The feed filter applies: the indicators feed has no malware.
		p = f.get(t, "limited", f.api+"/collections/indicators/objects?match[type]=malware").ok(t).items(t)
		if len(p.Items) != 0 {
			t.Errorf("indicators feed shows %v", ids(p))
		}
	})
}

// TestFeedObjectsBadInput: every bad parameter is a 400 with a message; nothing is served.
func TestFeedObjectsBadInput(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f := setup(t, st, nil)
		f.post(t, indicator(1, "[ipv4-addr:value = '198.51.100.1']", "stix", ""))
		all := f.api + "/collections/" + feedAll + "/objects"
		long := strings.Repeat("$id", 400)
		for name, tc := range map[string]struct{ query, want string }{
			"unknown format":     {"format=xml", "format \"xml\" is unknown"},
			"cursor not base64":  {"cursor=!!!", "not base64 of an ISO-8601"},
			"cursor not a time":  {"cursor=" + base64.StdEncoding.EncodeToString([]byte("yesterday")), "not base64 of an ISO-8601"},
			"template too long":  {"format=custom&template=" + long, "at most 1024"},
			"template missing":   {"format=custom", "needs a template"},
			"limit zero":         {"limit=0", "limit \"0\""},
			"limit not a number": {"limit=ten", "limit \"ten\""},
			"modified_after":     {"modified_after=soon", "modified_after \"soon\""},
			"include_revoked":    {"include_revoked=maybe", "neither true nor false"},
		} {
			t.Run(name, func(t *testing.T) {
				r := f.get(t, "reader", all+"?"+tc.query)
				r.apiError(t, http.StatusBadRequest, tc.want)
				if r.header.Get("Cursor") != "" {
					t.Error("an error carries a Cursor header")
				}
			})
		}
		f.get(t, "", all).apiError(t, http.StatusUnauthorized, "API key is required")
		if r := f.get(t, "", all); !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("401 without WWW-Authenticate: %v", r.header)
		}
		f.get(t, "reader", f.api+"/collections/nope/objects").apiError(t, http.StatusNotFound, "no feed")
		f.get(t, "limited", all).apiError(t, http.StatusNotFound, "no feed")
		// The store is as before: the one indicator, unchanged.
		if p := f.get(t, "reader", all).ok(t).items(t); len(p.Items) != 1 {
			t.Errorf("after bad requests: %v", ids(p))
		}
	})
}
