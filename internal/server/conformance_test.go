package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// Findings of the audit against the TAXII 2.1 specification (OASIS Standard,
// 10 June 2021), each through the assembled server.

// TestAcceptMostSpecificRangeWins: spec 1.6.8 negotiates as RFC 7231 does, where
// the most specific media range that matches gives the quality (5.3.2), whatever
// the case and spacing of names and parameters.
func TestAcceptMostSpecificRangeWins(t *testing.T) {
	r := assemble(t, Options{})
	for _, c := range []struct {
		accept string
		status int
	}{
		{"application/taxii+json;version=2.1;q=0, */*", 406},
		{"application/taxii+json;q=0, application/*", 406},
		{"application/*;q=0, */*;q=1", 406},
		{"*/*;q=0.0, application/json", 406},
		{"application/taxii+json;version=2.0, */*", 200},
		{"application/*;q=0, application/taxii+json", 200},
		{"application/taxii+json;q=0, application/taxii+json;version=2.1", 200},
		{"Application/TAXII+JSON ; Version = \"2.1\" ; Q=0.5", 200},
		{"text/html,application/xhtml+xml,application/taxii+json;version=2.1;q=0.9", 200},
	} {
		resp, body := r.do(t, "GET", apiRoot+"/collections/", r.keys["reader"], "", "Accept", c.accept)
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != taxii.MediaTypeTAXII {
			t.Errorf("Accept %q: %s %q, want %d with the TAXII Content-Type: %s", c.accept, resp.Status, resp.Header.Get("Content-Type"), c.status, body)
		}
	}
}

// TestManifestAcceptsSTIXMediaType: spec 5.3 lists application/stix+json;version=2.1
// among the Accept values of Get Object Manifests, and a media type defined for
// an endpoint must not be answered 406 (spec 3.1). The answer is still TAXII.
// Get Objects lists only the TAXII type.
func TestManifestAcceptsSTIXMediaType(t *testing.T) {
	r := assemble(t, Options{})
	coll := apiRoot + "/collections/" + feedA
	for _, accept := range []string{taxii.MediaTypeSTIX, "application/stix+json"} {
		resp, body := r.do(t, "GET", coll+"/manifest/", r.keys["reader"], "", "Accept", accept)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != taxii.MediaTypeTAXII || !strings.Contains(body, `"media_type":"`+taxii.MediaTypeSTIX+`"`) {
			t.Errorf("manifest, Accept %q: %s %q %s", accept, resp.Status, resp.Header.Get("Content-Type"), body)
		}
	}
	for _, path := range []string{coll + "/objects/", coll + "/", apiRoot + "/collections/", "/taxii2/"} {
		if resp, body := r.do(t, "GET", path, r.keys["reader"], "", "Accept", taxii.MediaTypeSTIX); resp.StatusCode != 406 {
			t.Errorf("%s, Accept %s: %s %s", path, taxii.MediaTypeSTIX, resp.Status, body)
		}
	}
	if resp, body := r.do(t, "GET", coll+"/manifest/", r.keys["reader"], "", "Accept", "application/stix+json;version=2.0"); resp.StatusCode != 406 {
		t.Errorf("manifest, Accept STIX 2.0: %s %s", resp.Status, body)
	}
}

// TestEmptyPagesCarryDateAddedHeaders: spec 3.2 requires both date headers on
// every 200 of manifest, objects, an object and its versions. An empty page
// names its query's lower bound: added_after, the position of next, else the epoch.
func TestEmptyPagesCarryDateAddedHeaders(t *testing.T) {
	r := assemble(t, Options{})
	coll := apiRoot + "/collections/" + feedA
	obj := "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	const epoch = "1970-01-01T00:00:00.000000Z"
	check := func(path, want string) {
		t.Helper()
		for _, method := range []string{"GET", "HEAD"} {
			resp, body := r.do(t, method, path, r.keys["admin"], "")
			first, last := resp.Header.Get("X-TAXII-Date-Added-First"), resp.Header.Get("X-TAXII-Date-Added-Last")
			if resp.StatusCode != 200 || (method == "GET" && body != "{}") || first != want || last != want {
				t.Errorf("%s %s: %s %s, headers %q %q, want {} with %q", method, path, resp.Status, body, first, last, want)
			}
		}
	}
	for _, ep := range []string{"/manifest/", "/objects/", "/objects/" + obj + "/", "/objects/" + obj + "/versions/"} {
		check(coll+ep+"?match[spec_version]=2.0", epoch)
		check(coll+ep+"?added_after=2099-01-02T03:04:05.5%2B01:00", "2099-01-02T02:04:05.500000Z")
	}

	// A page after which every object was deleted: the position of next.
	add := `{"objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--0b0a1e55-5c3a-4e1d-9a2b-6f7e8d9c0b1a","created":"2026-01-03T00:00:00.000Z","modified":"2026-01-03T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.8']","pattern_type":"stix","valid_from":"2026-01-03T00:00:00Z"}]}`
	if resp, body := r.do(t, "POST", coll+"/objects/", r.keys["admin"], add); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("add: %s %s", resp.Status, body)
	}
	resp, body := r.do(t, "GET", coll+"/objects/?limit=1", r.keys["admin"], "")
	var page struct {
		More bool   `json:"more"`
		Next string `json:"next"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil || !page.More || page.Next == "" {
		t.Fatalf("first page: %s %s", resp.Status, body)
	}
	if resp, body := r.do(t, "DELETE", coll+"/objects/indicator--0b0a1e55-5c3a-4e1d-9a2b-6f7e8d9c0b1a/", r.keys["admin"], ""); resp.StatusCode != 200 {
		t.Fatalf("delete: %s %s", resp.Status, body)
	}
	check(coll+"/objects/?limit=1&next="+page.Next, resp.Header.Get("X-TAXII-Date-Added-Last"))
}

// TestAddObjectsUnprocessableBodyIs422: spec 5.5 answers "a malformed body, or
// other unprocessable content" with 422, and spec 4.2.1 forbids 413 for a body
// under max_content_length, so more objects than one request may add is 422 too.
func TestAddObjectsUnprocessableBodyIs422(t *testing.T) {
	r := assemble(t, Options{})
	coll := apiRoot + "/collections/" + feedA + "/objects/"
	tooMany := `{"objects":[` + strings.TrimSuffix(strings.Repeat("1,", config.Default().MaxObjectsPerAdd+1), ",") + `]}`
	for _, c := range []struct{ name, body, want string }{
		{"not JSON", "hello", "not JSON"},
		{"truncated", `{"objects":[{"type":"indicator"`, "truncated"},
		{"a bundle", `{"type":"bundle","id":"bundle--6f1e4f4a-1111-4a4a-8a8a-123456789abc","objects":[]}`, "jq"},
		{"objects not an array", `{"objects":{}}`, "not an array"},
		{"too many objects", tooMany, "more than"},
	} {
		resp, body := r.do(t, "POST", coll, r.keys["writer"], c.body)
		var e struct {
			HTTPStatus  string `json:"http_status"`
			Description string `json:"description"`
		}
		_ = json.Unmarshal([]byte(body), &e)
		if resp.StatusCode != http.StatusUnprocessableEntity || e.HTTPStatus != "422" || !strings.Contains(e.Description, c.want) ||
			resp.Header.Get("Content-Type") != taxii.MediaTypeTAXII {
			t.Errorf("%s: %s %q %.300s", c.name, resp.Status, resp.Header.Get("Content-Type"), body)
		}
	}
}
