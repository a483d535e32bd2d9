package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/admit"
	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/export"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
	"github.com/inthreat/taxii-server/internal/taxii"
	"github.com/inthreat/taxii-server/internal/usage"
)

// usageServer is New around the real TAXII API and export routes on st, with a
// usage recorder, feed A holding two indicators and a read-only key.
func usageServer(t *testing.T, st store.Store) (srv *httptest.Server, rec *usage.Recorder, keyID, plain string) {
	t.Helper()
	ctx := t.Context()
	if err := st.CreateFeed(ctx, store.Feed{ID: feedA, Title: "A", Alias: "a"}); err != nil {
		t.Fatal(err)
	}
	plain, k, err := auth.Generate("poller", store.RoleReadOnly, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	var objs []store.Object
	for _, id := range []string{"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd31", "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd32"} {
		raw := `{"type":"indicator","spec_version":"2.1","id":"` + id + `","created":"2026-01-02T03:04:05.000Z","modified":"2026-01-02T03:04:05.000Z","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2026-01-02T03:04:05Z"}`
		objs = append(objs, store.Object{ID: id, Type: "indicator", SpecVersion: "2.1", Created: "2026-01-02T03:04:05.000Z", Modified: "2026-01-02T03:04:05.000Z", Raw: []byte(raw)})
	}
	if _, err := st.AddObjects(ctx, objs); err != nil {
		t.Fatal(err)
	}
	d := config.Default()
	rec, err = usage.New(st, usage.Options{MaxEntries: d.UsageMaxEntries, FlushEvery: d.UsageFlushInterval, Retention: d.UsageRetention, FinalFlushTimeout: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := taxii.NewHandler(taxiiOptions(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	eo := export.OptionsFrom(d)
	eo.PerKey = admit.NewPerKey(d.MaxRequestsPerKey)
	ers, err := export.Routes(eo, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	var routes []Route
	for _, r := range ers {
		routes = append(routes, Route(r))
	}
	srv = httptest.NewServer(New(Options{TAXII: api, Routes: routes, Store: okPinger{}, Usage: rec}))
	t.Cleanup(srv.Close)
	return srv, rec, k.ID, plain
}

// get asks path with the key and returns the status and body length.
func get(t *testing.T, srv *httptest.Server, path, key string) (int, int64) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, n
}

// A key polls a feed over TAXII and the export API; after a flush, the store's
// usage shows its polls, objects and bytes for that feed, on both stores.
func TestUsageOfAPoll(t *testing.T) {
	for _, s := range storetest.Stores(t) {
		t.Run(s.Name, func(t *testing.T) {
			st := s.New(t)
			srv, rec, keyID, plain := usageServer(t, st)
			coll := apiRoot + "/collections/" + feedA
			start := time.Now()

			status, manifestBytes := get(t, srv, coll+"/manifest/", plain)
			if status != http.StatusOK {
				t.Fatalf("manifest: %d", status)
			}
			status, exportBytes := get(t, srv, export.PrefixOf(apiRoot+"/")+"/collections/a/objects?format=text", plain)
			if status != http.StatusOK {
				t.Fatalf("export: %d", status)
			}
			status, objectsBytes := get(t, srv, coll+"/objects/?added_after=2026-01-01T00:00:00.5Z", plain)
			if status != http.StatusOK {
				t.Fatalf("objects: %d", status)
			}
			// Requests about no one feed, a refused poll, and a request without a key.
			status, collectionsBytes := get(t, srv, apiRoot+"/collections/", plain)
			if status != http.StatusOK {
				t.Fatalf("collections: %d", status)
			}
			if status, _ := get(t, srv, coll+"/objects/?added_after=yesterday", plain); status != http.StatusBadRequest {
				t.Fatalf("bad added_after: %d", status)
			}
			if status, _ := get(t, srv, coll+"/objects/", ""); status != http.StatusUnauthorized {
				t.Fatalf("no key: %d", status)
			}

			if err := rec.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			got, err := st.UsageTotals(t.Context(), store.UsageHour(start).Add(-time.Hour), store.UsageByKeyFeed)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("usage rows %+v; want the key alone and on feed A", got)
			}
			none, onA := got[0], got[1]
			if none.KeyID != keyID || none.FeedID != "" || none.Requests != 1 || none.Polls != 0 || none.Bytes != collectionsBytes {
				t.Fatalf("usage without a feed %+v; want 1 request of %d bytes", none, collectionsBytes)
			}
			wantAfter := time.Date(2026, 1, 1, 0, 0, 0, 500_000_000, time.UTC).UnixMicro()
			if onA.KeyID != keyID || onA.FeedID != feedA || onA.Requests != 4 || onA.Polls != 3 || onA.Objects != 6 ||
				onA.Bytes < manifestBytes+exportBytes+objectsBytes || onA.LastAddedAfter != wantAfter ||
				onA.LastPoll.Before(start.Truncate(time.Microsecond)) || onA.LastPoll.After(time.Now()) {
				t.Fatalf("usage on feed A %+v; want 4 requests, 3 polls, 6 objects, at least %d bytes, added_after %d",
					onA, manifestBytes+exportBytes+objectsBytes, wantAfter)
			}
			// Keys' last use is still recorded as before.
			if k, err := st.GetKey(context.Background(), keyID); err != nil || k.LastUsedAt.IsZero() {
				t.Fatalf("key last used %v, %v", k.LastUsedAt, err)
			}
		})
	}
}
