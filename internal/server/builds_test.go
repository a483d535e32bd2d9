package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
	"github.com/inthreat/taxii-server/internal/store/storetest"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// A feed whose entries are still being built (its build cut short) is not
// served half-built: its objects, manifest, versions and exports answer 503
// with Retry-After, while its collection resource is still described; once
// the build is finished, the same requests are served whole.
func TestFeedBeingBuiltIsNotServed(t *testing.T) {
	st := sqlitetest.NewWithLimits(t, store.Limits{FeedBuildStep: 1, FeedBuildAtOnce: time.Nanosecond})
	srv, _, _, key := usageServer(t, st)
	var objs []store.Object
	for n := range 300 {
		id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n)
		marking := "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" // TLP:GREEN
		if n%3 == 0 {
			marking = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" // TLP:RED
		}
		raw := `{"type":"indicator","spec_version":"2.1","id":"` + id + `","created":"2026-01-02T03:04:05.000Z","modified":"2026-01-02T03:04:05.000Z","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2026-01-02T03:04:05Z","object_marking_refs":["` + marking + `"]}`
		objs = append(objs, store.Object{ID: id, Type: "indicator", SpecVersion: "2.1", Created: "2026-01-02T03:04:05.000Z", Modified: "2026-01-02T03:04:05.000Z", Raw: []byte(raw)})
	}
	if _, err := st.AddObjects(t.Context(), objs); err != nil {
		t.Fatal(err)
	}
	const red = "5e1d2f00-0000-4000-8000-0000000000c1"
	storetest.InterruptedBuild(t, st, store.Feed{ID: red, Title: "red", Writable: true, Filter: store.FeedFilter{TLP: []store.TLP{store.TLPRed}}})

	// A key that reads only the feed being built: its lookups across its feeds wait too.
	redOnly, k, err := auth.Generate("red reader", store.RoleReadOnly, []string{red}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	adminKey, ak, err := auth.Generate("admin", store.RoleAdmin, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateKey(t.Context(), ak); err != nil {
		t.Fatal(err)
	}
	lookup := "/api/v2/inthreat/objects/" + objs[0].ID
	if resp, body := getWith(t, srv.URL+lookup, redOnly); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a lookup in the feeds of a key whose one feed is being built: %d %s; want 503", resp.StatusCode, body)
	}

	collection := apiRoot + "/collections/" + red + "/"
	served := []string{
		collection + "objects/",
		collection + "manifest/",
		collection + "objects/" + objs[0].ID + "/",
		collection + "objects/" + objs[0].ID + "/versions/",
		"/api/v2/inthreat/collections/" + red + "/objects",
		"/api/v2/inthreat/collections/" + red + "/lists/ipv4.txt",
	}
	for _, path := range served {
		resp, body := getWith(t, srv.URL+path, key)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s while the feed is being built: %d (Retry-After %q) %s; want 503 with Retry-After", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	// Delete an Object finds the versions in the feed's entries: it waits too.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, srv.URL+collection+"objects/"+objs[0].ID+"/", nil)
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Delete an Object in the feed being built: %v, %v; want 503", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, body := getWith(t, srv.URL+collection, key); resp.StatusCode != http.StatusOK {
		t.Errorf("the collection resource while the feed is being built: %d %s; want 200", resp.StatusCode, body)
	}

	if err := st.FinishFeedBuilds(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, path := range served {
		if resp, body := getWith(t, srv.URL+path, key); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s once built: %d %s; want 200", path, resp.StatusCode, body)
		}
	}
	if resp, body := getWith(t, srv.URL+lookup, redOnly); resp.StatusCode != http.StatusOK {
		t.Errorf("the lookup once the feed is built: %d %s; want 200", resp.StatusCode, body)
	}
	resp, body := getWith(t, srv.URL+collection+"objects/?limit=1000", key)
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil || resp.StatusCode != http.StatusOK || len(env.Objects) != 100 {
		t.Errorf("the finished feed: %d, %d objects (%v); want the 100 TLP:RED ones", resp.StatusCode, len(env.Objects), err)
	}
}

// getWith sends GET with key's Bearer credential and the TAXII media type, and reads the answer.
func getWith(t *testing.T, url, key string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(url[strings.Index(url, "/api/"):], apiRoot) {
		req.Header.Set("Accept", taxii.MediaTypeTAXII)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
