package export_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/store"
)

func basic(key string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte("firewall:"+key))
}

// entryCounter is a store that counts the reads of a list's entries.
type entryCounter struct {
	store.Store
	entryReads atomic.Int32
}

func (c *entryCounter) ListEntries(ctx context.Context, feed store.FeedFilter, kind, after string, now int64, limit int) ([]string, error) {
	c.entryReads.Add(1)
	return c.Store.ListEntries(ctx, feed, kind, after, now, limit)
}

func TestBlocklists(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		cs := &entryCounter{Store: st}
		f := setup(t, cs, func(c *config.Config) { c.ListBatch = 100 })
		f.post(t,
			indicator(1, "[ipv4-addr:value = '198.51.100.2'] OR [ipv4-addr:value = '10.0.0.0/8']", "stix", ""),
			indicator(2, "[ipv4-addr:value = '198.51.100.1/32']", "stix", `,"valid_until":"2099-01-01T00:00:00Z"`),
			indicator(3, "[ipv4-addr:value = '198.51.100.2']", "stix", ""), // same value: listed once
			indicator(4, "[ipv4-addr:value = '198.51.100.3']", "stix", `,"revoked":true`),
			indicator(5, "[ipv4-addr:value = '198.51.100.4']", "stix", `,"valid_until":"2024-06-01T00:00:00Z"`),
			indicator(6, "[ipv6-addr:value = '2001:DB8::1'] OR [url:value = 'https://Evil.Example/a?b=1']", "stix", ""),
			indicator(7, "[domain-name:value = 'Evil.Example'] OR [file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']", "stix", ""),
			indicator(8, "[file:hashes.'SHA-1' = 'aabbccddeeff00112233445566778899aabbccdd' OR file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']", "stix", ""),
			indicator(9, "rule x { condition: true }", "yara", ""),
			malware(10),
		)
		lists := f.api + "/collections/" + feedAll + "/lists/"
		for kind, want := range map[string]string{
			"ipv4":   "198.51.100.1\n198.51.100.2\n",
			"cidr":   "10.0.0.0/8\n",
			"ipv6":   "2001:db8::1\n",
			"url":    "evil.example/a?b=1\n",
			"domain": "evil.example\n",
			"md5":    "cead3f77f6cda6ec00f57d76c9a6879f\n",
			"sha1":   "aabbccddeeff00112233445566778899aabbccdd\n",
			"sha256": "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f\n",
		} {
			r := f.get(t, "", lists+kind+".txt", "Authorization", basic(f.keys["reader"])).ok(t)
			if string(r.body) != want {
				t.Errorf("%s:\n got %q\nwant %q", kind, r.body, want)
			}
			if r.header.Get("Content-Type") != "text/plain; charset=utf-8" || r.header.Get("ETag") == "" || r.header.Get("Last-Modified") == "" {
				t.Errorf("%s headers: %v", kind, r.header)
			}
		}
		// The indicators feed lists them too; the limited key cannot read the whole-store feed.
		f.get(t, "limited", f.api+"/collections/indicators/lists/ipv4.txt").ok(t)
		f.get(t, "limited", lists+"ipv4.txt").apiError(t, http.StatusNotFound, "no feed")

		// ETag: 304 while nothing changes; a new entry changes it.
		r := f.get(t, "reader", lists+"ipv4.txt").ok(t)
		etag := r.header.Get("ETag")
		nm := f.get(t, "reader", lists+"ipv4.txt", "If-None-Match", etag)
		if nm.status != http.StatusNotModified || len(nm.body) != 0 {
			t.Errorf("If-None-Match: %d %q", nm.status, nm.body)
		}
		f.post(t, indicator(11, "[ipv4-addr:value = '198.51.100.9']", "stix", ""))
		r = f.get(t, "reader", lists+"ipv4.txt", "If-None-Match", etag).ok(t)
		if string(r.body) != "198.51.100.1\n198.51.100.2\n198.51.100.9\n" || r.header.Get("ETag") == etag {
			t.Errorf("after a new indicator: %q, ETag %s", r.body, r.header.Get("ETag"))
		}
		// HEAD: the same headers, no body, and the entries are not read.
		reads := cs.entryReads.Load()
		req, _ := http.NewRequest(http.MethodHead, lists+"ipv4.txt", nil)
		req.Header.Set("Authorization", basic(f.keys["reader"]))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != r.header.Get("ETag") {
			t.Errorf("HEAD: %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
		}
		if n := cs.entryReads.Load(); n != reads {
			t.Errorf("HEAD read the list's entries (%d reads)", n-reads)
		}
		// Unknown kinds and names are 400; no key is 401; the key in the query is off by default.
		f.get(t, "reader", lists+"mac.txt").apiError(t, http.StatusBadRequest, "not a list")
		if r := f.get(t, "reader", lists+"ipv4.csv"); r.status != http.StatusNotFound {
			t.Errorf("ipv4.csv: %d", r.status)
		}
		f.get(t, "", lists+"ipv4.txt").apiError(t, http.StatusUnauthorized, "API key")
		f.get(t, "", lists+"ipv4.txt?key="+url.QueryEscape(f.keys["reader"])).apiError(t, http.StatusUnauthorized, "API key")

		if v, ok := metricValue(t, f.reg, "taxii_export_responses_total", map[string]string{"format": "list_ipv4", "result": "not_modified"}); !ok || v != 1 {
			t.Errorf("304s counted: %v %v", v, ok)
		}
		if v, ok := metricValue(t, f.reg, "taxii_export_items_total", map[string]string{"format": "list_sha256"}); !ok || v != 1 {
			t.Errorf("sha256 entries counted: %v %v", v, ok)
		}
	})
}

func TestBlocklistKeyInQuery(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f := setup(t, st, func(c *config.Config) { c.ListKeyInQuery = true })
		f.post(t, indicator(1, "[domain-name:value = 'evil.example']", "stix", ""))
		r := f.get(t, "", f.api+"/collections/"+feedAll+"/lists/domain.txt?key="+url.QueryEscape(f.keys["reader"])).ok(t)
		if string(r.body) != "evil.example\n" {
			t.Errorf("list: %q", r.body)
		}
		// Only lists take it.
		f.get(t, "", f.api+"/collections/"+feedAll+"/objects?key="+url.QueryEscape(f.keys["reader"])).apiError(t, http.StatusUnauthorized, "API key")
		f.get(t, "", f.api+"/collections/"+feedAll+"/lists/domain.txt?key=wrong").apiError(t, http.StatusUnauthorized, "API key")
	})
}

// TestBlocklistFeedFilters: a list of a feed filtered beyond types (TLP, minimum
// confidence, revoked) shows only what the feed shows, through the membership
// index the store keeps for feeds created with CreateFeed.
func TestBlocklistFeedFilters(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f := setup(t, st, nil)
		const (
			feedGreen = "6a1e0c55-8f0c-4f7e-9d1a-3c1f9d6b0001"
			feedConf  = "6a1e0c55-8f0c-4f7e-9d1a-3c1f9d6b0002"
			feedLive  = "6a1e0c55-8f0c-4f7e-9d1a-3c1f9d6b0003"
		)
		for _, fd := range []store.Feed{
			{ID: feedGreen, Title: "Green", Filter: store.FeedFilter{TLP: []store.TLP{store.TLPGreen}}},
			{ID: feedConf, Title: "Confident", Filter: store.FeedFilter{MinConfidence: 80}},
			{ID: feedLive, Title: "Not revoked", Filter: store.FeedFilter{ExcludeRevoked: true}},
		} {
			if err := st.CreateFeed(t.Context(), fd); err != nil {
				t.Fatal(err)
			}
		}
		green := `,"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]`
		amber := `,"object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]`
		f.post(t,
			indicator(1, "[ipv4-addr:value = '198.51.100.1']", "stix", green+`,"confidence":90`),
			indicator(2, "[ipv4-addr:value = '198.51.100.2']", "stix", amber+`,"confidence":79`),
			indicator(3, "[ipv4-addr:value = '198.51.100.3']", "stix", ""), // no TLP, no confidence
			indicator(4, "[ipv4-addr:value = '198.51.100.4']", "stix", `,"confidence":80`),
		)
		// A revoked version of 4: gone from every list, and the feed without revoked
		// objects no longer shows its earlier version either.
		f.post(t, `{"type":"indicator","spec_version":"2.1","id":"`+indicatorID(4)+`","created":"2024-01-01T00:00:00.000Z",`+
			`"modified":"2024-02-01T00:00:00.000Z","name":"ind 4 v2","pattern":"[ipv4-addr:value = '198.51.100.4']","pattern_type":"stix",`+
			`"valid_from":"2024-01-01T00:00:00Z","confidence":80,"revoked":true}`)
		for feed, want := range map[string]string{
			feedAll:   "198.51.100.1\n198.51.100.2\n198.51.100.3\n",
			feedGreen: "198.51.100.1\n",
			feedConf:  "198.51.100.1\n",
			feedLive:  "198.51.100.1\n198.51.100.2\n198.51.100.3\n",
		} {
			r := f.get(t, "reader", f.api+"/collections/"+feed+"/lists/ipv4.txt").ok(t)
			if string(r.body) != want {
				t.Errorf("feed %s:\n got %q\nwant %q", feed, r.body, want)
			}
		}
		// The objects the feeds show agree with their lists.
		for feed, want := range map[string][]string{
			feedConf: {indicatorID(1), indicatorID(4)},
			feedLive: {indicatorID(1), indicatorID(2), indicatorID(3)},
		} {
			if got := ids(f.get(t, "reader", f.api+"/collections/"+feed+"/objects").ok(t).items(t)); !slices.Equal(got, want) {
				t.Errorf("feed %s objects: %v, want %v", feed, got, want)
			}
		}
	})
}

// TestBlocklistDatesExpiry: an entry that expires changes the list with no write at
// all: the ETag changes and Last-Modified moves to the expiry. If-Modified-Since is
// honoured when no If-None-Match comes, which takes precedence.
func TestBlocklistDatesExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		f := setup(t, st, nil)
		until := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
		f.post(t,
			indicator(1, "[ipv4-addr:value = '198.51.100.1']", "stix", `,"valid_until":"`+until.Format(time.RFC3339)+`"`),
			indicator(2, "[ipv4-addr:value = '198.51.100.2']", "stix", ""))
		list := f.api + "/collections/" + feedAll + "/lists/ipv4.txt"
		before := f.get(t, "reader", list).ok(t)
		lm, err := http.ParseTime(before.header.Get("Last-Modified"))
		if err != nil || string(before.body) != "198.51.100.1\n198.51.100.2\n" {
			t.Fatalf("before: %q, Last-Modified %q", before.body, before.header.Get("Last-Modified"))
		}
		if r := f.get(t, "reader", list, "If-Modified-Since", before.header.Get("Last-Modified")); r.status != http.StatusNotModified || len(r.body) != 0 {
			t.Errorf("If-Modified-Since the Last-Modified: %d %q", r.status, r.body)
		}
		if r := f.get(t, "reader", list, "If-Modified-Since", lm.Add(-time.Second).Format(http.TimeFormat)); r.status != http.StatusOK {
			t.Errorf("If-Modified-Since a second earlier: %d", r.status)
		}
		if r := f.get(t, "reader", list, "If-None-Match", `"other"`, "If-Modified-Since", before.header.Get("Last-Modified")); r.status != http.StatusOK {
			t.Errorf("If-None-Match that does not match, with an If-Modified-Since that does: %d", r.status)
		}

		f.ahead.Store(int64(2 * time.Hour)) // the first entry has expired; nothing was written
		after := f.get(t, "reader", list, "If-None-Match", before.header.Get("ETag"), "If-Modified-Since", before.header.Get("Last-Modified")).ok(t)
		if string(after.body) != "198.51.100.2\n" || after.header.Get("ETag") == before.header.Get("ETag") {
			t.Errorf("after the expiry: %q, ETag %s (before %s)", after.body, after.header.Get("ETag"), before.header.Get("ETag"))
		}
		if got := after.header.Get("Last-Modified"); got != until.Format(http.TimeFormat) {
			t.Errorf("Last-Modified after the expiry %q, want the expiry %q", got, until.Format(http.TimeFormat))
		}
		if r := f.get(t, "reader", list, "If-Modified-Since", before.header.Get("Last-Modified")); r.status != http.StatusOK {
			t.Errorf("If-Modified-Since the old Last-Modified after the expiry: %d", r.status)
		}
		if r := f.get(t, "reader", list, "If-Modified-Since", after.header.Get("Last-Modified")); r.status != http.StatusNotModified {
			t.Errorf("If-Modified-Since the new Last-Modified: %d", r.status)
		}
	})
}
