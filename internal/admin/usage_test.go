package admin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/admin"
	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/server"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
	"github.com/inthreat/taxii-server/internal/taxii"
	"github.com/inthreat/taxii-server/internal/usage"
)

const usageFeed = "9a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01"

// usageBench is the assembled server (TAXII API, admin API, usage recorder) on st,
// with one feed holding one indicator, a read-only key that polls it, an admin key
// and a key that stopped polling three days ago.
type usageBench struct {
	srv                 *httptest.Server
	rec                 *usage.Recorder
	poller, admin       string // plaintext keys
	pollerID, stoppedID string
}

func newUsageBench(t *testing.T, st store.Store) *usageBench {
	t.Helper()
	ctx := t.Context()
	if err := st.CreateFeed(ctx, store.Feed{ID: usageFeed, Title: "Indicators", Alias: "ind"}); err != nil {
		t.Fatal(err)
	}
	raw := `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd31","created":"2026-01-02T03:04:05.000Z","modified":"2026-01-02T03:04:05.000Z","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2026-01-02T03:04:05Z"}`
	if _, err := st.AddObjects(ctx, []store.Object{{ID: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd31", Type: "indicator", SpecVersion: "2.1",
		Created: "2026-01-02T03:04:05.000Z", Modified: "2026-01-02T03:04:05.000Z", Raw: []byte(raw)}}); err != nil {
		t.Fatal(err)
	}
	b := &usageBench{}
	for _, k := range []struct {
		name string
		role store.Role
		out  *string
		id   *string
	}{{"poller", store.RoleReadOnly, &b.poller, &b.pollerID}, {"root", store.RoleAdmin, &b.admin, nil}, {"gone-quiet", store.RoleReadOnly, nil, &b.stoppedID}} {
		plain, key, err := auth.Generate(k.name, k.role, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		if k.out != nil {
			*k.out = plain
		}
		if k.id != nil {
			*k.id = key.ID
		}
	}
	threeDays := time.Now().Add(-72 * time.Hour)
	if err := st.AddUsage(ctx, []store.UsageRow{{Hour: threeDays, KeyID: b.stoppedID, FeedID: usageFeed, Requests: 5, Polls: 5, Objects: 50, Bytes: 5000, LastPoll: threeDays, LastAddedAfter: 1}}); err != nil {
		t.Fatal(err)
	}

	d := config.Default()
	var err error
	b.rec, err = usage.New(st, usage.Options{MaxEntries: d.UsageMaxEntries, FlushEvery: d.UsageFlushInterval, Retention: d.UsageRetention, FinalFlushTimeout: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := taxii.NewHandler(taxii.OptionsFrom(d), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	adm, err := admin.NewHandler(admin.NewService(st, nil, nil, admin.OptionsFrom(d)), nil, admin.APIOptionsFrom(d))
	if err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(server.New(server.Options{TAXII: api, Admin: adm, Store: st, Usage: b.rec}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *usageBench) get(t *testing.T, path, key string, into any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if into != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("%s: %v in %s", path, err, body)
		}
	}
	return resp.StatusCode
}

type figures struct{ Requests, Polls, Objects, Bytes int64 }

// A key polls a feed; after a flush the admin API shows the polls per key, per
// feed and per day, and the key that stopped polling is flagged, on both stores.
func TestUsageEndpoints(t *testing.T) {
	for _, s := range storetest.Stores(t) {
		t.Run(s.Name, func(t *testing.T) {
			b := newUsageBench(t, s.New(t))
			objects := config.Default().APIRootPath + "collections/" + usageFeed + "/objects/"
			for _, q := range []string{"", "?added_after=2026-01-01T00:00:00Z"} {
				if status := b.get(t, objects+q, b.poller, nil); status != http.StatusOK {
					t.Fatalf("poll: %d", status)
				}
			}
			if err := b.rec.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}

			var keys struct {
				Keys []struct {
					ID             string
					Name           string
					L24            figures    `json:"last_24h"`
					L30            figures    `json:"last_30d"`
					LastPoll       *time.Time `json:"last_poll"`
					LastAddedAfter *time.Time `json:"last_added_after"`
					Stopped        bool
					Feeds          []struct {
						Feed struct{ ID, Title string }
						L30  figures `json:"last_30d"`
					}
				} `json:"items"`
			}
			if status := b.get(t, admin.Prefix+"/usage/keys", b.admin, &keys); status != http.StatusOK {
				t.Fatalf("usage/keys: %d", status)
			}
			if status := b.get(t, admin.Prefix+"/usage/keys", b.poller, nil); status != http.StatusForbidden {
				t.Fatalf("usage/keys with a read-only key: %d, want 403", status)
			}
			seen := 0
			for _, k := range keys.Keys {
				switch k.ID {
				case b.pollerID:
					seen++
					if k.L24.Polls != 2 || k.L24.Objects != 2 || k.L24.Bytes == 0 || k.L30 != k.L24 || k.Stopped ||
						k.LastPoll == nil || time.Since(*k.LastPoll) > time.Minute || k.LastAddedAfter == nil ||
						!k.LastAddedAfter.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) ||
						len(k.Feeds) != 1 || k.Feeds[0].Feed.ID != usageFeed || k.Feeds[0].Feed.Title != "Indicators" || k.Feeds[0].L30.Polls != 2 {
						t.Fatalf("the poller's usage: %+v", k)
					}
				case b.stoppedID:
					seen++
					if !k.Stopped || k.L24.Polls != 0 || k.L30.Polls != 5 {
						t.Fatalf("the key that stopped polling: %+v", k)
					}
				}
			}
			if seen != 2 {
				t.Fatalf("usage/keys: %+v", keys)
			}

			// The key list carries the same figures.
			var list struct {
				Items []struct {
					ID  string
					L24 figures `json:"last_24h"`
				}
			}
			if status := b.get(t, admin.Prefix+"/keys", b.admin, &list); status != http.StatusOK {
				t.Fatalf("keys: %d", status)
			}
			listed := false
			for _, k := range list.Items {
				if k.ID == b.pollerID {
					listed = k.L24.Polls == 2 && k.L24.Objects == 2
				}
			}
			if !listed {
				t.Fatalf("the key list does not show the poller's usage: %+v", list)
			}

			var feeds struct {
				Feeds []struct {
					Feed struct{ ID string }
					L24  figures `json:"last_24h"`
					L30  figures `json:"last_30d"`
					Keys int
				} `json:"items"`
			}
			if status := b.get(t, admin.Prefix+"/usage/feeds", b.admin, &feeds); status != http.StatusOK {
				t.Fatalf("usage/feeds: %d", status)
			}
			if len(feeds.Feeds) != 1 || feeds.Feeds[0].Feed.ID != usageFeed || feeds.Feeds[0].L24.Polls != 2 || feeds.Feeds[0].L30.Polls != 7 || feeds.Feeds[0].Keys != 2 {
				t.Fatalf("usage/feeds: %+v", feeds)
			}

			var daily struct {
				Key  struct{ ID, Name string }
				Days []struct {
					Day string
					figures
				}
			}
			if status := b.get(t, admin.Prefix+"/usage/keys/poller/daily", b.admin, &daily); status != http.StatusOK {
				t.Fatalf("daily: %d", status)
			}
			today := time.Now().UTC().Format(time.DateOnly)
			if len(daily.Days) != 30 || daily.Key.ID != b.pollerID || daily.Days[29].Day != today || daily.Days[29].Polls != 2 || daily.Days[0].Polls != 0 {
				t.Fatalf("daily series: %+v", daily)
			}
			if status := b.get(t, admin.Prefix+"/usage/keys/nobody/daily", b.admin, nil); status != http.StatusNotFound {
				t.Fatalf("daily of an unknown key: %d, want 404", status)
			}
		})
	}
}
