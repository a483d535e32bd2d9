package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/storetest"
)

// feedWIndID is a writable collection that shows indicators only (setupWrite).
const feedWIndID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

// setupWrite is setup plus "windicators", a writable collection filtered to indicators.
func setupWrite(t *testing.T, st store.Store, opts Options) *bundle {
	t.Helper()
	b := setup(t, st, opts)
	f := store.Feed{ID: feedWIndID, Title: "Writable indicators", Alias: "windicators", Writable: true,
		Filter: store.FeedFilter{Types: []string{"indicator"}}, CreatedAt: time.Date(2026, 1, 1, 0, 3, 0, 0, time.UTC)}
	if err := st.CreateFeed(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	b.feeds["windicators"] = f
	return b
}

// send makes a request with a body, as key, sending TAXII 2.1 in both directions
// unless opts say otherwise.
func (b *bundle) send(t testing.TB, method, key, url string, body []byte, opts ...reqOpt) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", MediaTypeTAXII)
	req.Header.Set("Content-Type", MediaTypeTAXII)
	if key != "" {
		req.Header.Set("Authorization", basicAuth("producer", b.keys[key]))
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: got}
}

// chunked sends the body without a Content-Length.
func chunked() reqOpt {
	return func(r *http.Request) {
		body, _ := r.GetBody()
		r.Body = io.NopCloser(struct{ io.Reader }{body}) // hides the length
		r.ContentLength = -1
		r.GetBody = nil
	}
}

// post adds objects to a collection (by name in b.feeds) as key.
func (b *bundle) post(t testing.TB, key, feed string, body []byte, opts ...reqOpt) response {
	t.Helper()
	return b.send(t, http.MethodPost, key, b.objectsURL(feed), body, opts...)
}

func (b *bundle) objectsURL(feed string) string {
	return b.root + "/collections/" + b.feeds[feed].ID + "/objects/"
}

// statusRes is a decoded status resource; lists stay nil when absent.
type statusRes struct {
	ID               string          `json:"id"`
	Status           string          `json:"status"`
	RequestTimestamp string          `json:"request_timestamp"`
	TotalCount       *int            `json:"total_count"`
	SuccessCount     *int            `json:"success_count"`
	Successes        []statusDetails `json:"successes"`
	FailureCount     *int            `json:"failure_count"`
	Failures         []statusDetails `json:"failures"`
	PendingCount     *int            `json:"pending_count"`
	Pendings         []statusDetails `json:"pendings"`
}

var (
	uuidRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
)

// accepted checks a 202 with a complete, self-consistent status resource (the
// checks taxii2-client's Status makes, and more), and returns it.
func (r response) accepted(t testing.TB) statusRes {
	t.Helper()
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d, want 202: %.2000s", r.status, r.body)
	}
	return r.statusResource(t)
}

func (r response) statusResource(t testing.TB) statusRes {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != MediaTypeTAXII {
		t.Fatalf("Content-Type %q", ct)
	}
	var s statusRes
	mustJSON(t, r.body, &s)
	if !uuidRE.MatchString(s.ID) || s.Status != "complete" || !timestampRE.MatchString(s.RequestTimestamp) {
		t.Fatalf("status resource id %q, status %q, request_timestamp %q: %.2000s", s.ID, s.Status, s.RequestTimestamp, r.body)
	}
	if s.TotalCount == nil || s.SuccessCount == nil || s.FailureCount == nil || s.PendingCount == nil {
		t.Fatalf("status resource lacks a required count: %.2000s", r.body)
	}
	if *s.SuccessCount != len(s.Successes) || *s.FailureCount != len(s.Failures) || *s.PendingCount != 0 || len(s.Pendings) != 0 ||
		*s.SuccessCount+*s.FailureCount+*s.PendingCount != *s.TotalCount {
		t.Fatalf("status counts do not add up: %.2000s", r.body)
	}
	for _, d := range s.Successes {
		if d.ID == "" || d.Version == "" || d.Message != "" {
			t.Fatalf("success without id or version, or with a message: %+v", d)
		}
	}
	for _, d := range s.Failures {
		if d.Message == "" {
			t.Fatalf("failure without a message: %+v", d)
		}
	}
	return s
}

// failure returns the failure of id, failing the test when there is none.
func (s statusRes) failure(t testing.TB, id string) statusDetails {
	t.Helper()
	for _, f := range s.Failures {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no failure for %q in %+v", id, s.Failures)
	return statusDetails{}
}

func (s statusRes) successIDs() []string {
	var out []string
	for _, d := range s.Successes {
		out = append(out, d.ID+"@"+d.Version)
	}
	return out
}

// indicator is a valid STIX 2.1 indicator, version modified.
func indicator(n int, modified string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2026-01-01T00:00:00.000Z","modified":%q,`+
		`"name":"bad host %d","pattern":"[ipv4-addr:value = '10.0.%d.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`,
		stixID("indicator", n), modified, n, n/256%256, n%256)
}

// malware is a valid STIX 2.1 malware object.
func malware(n int, modified string) string {
	return fmt.Sprintf(`{"type":"malware","spec_version":"2.1","id":%q,"created":"2026-01-01T00:00:00.000Z","modified":%q,"name":"m%d","is_family":false}`,
		stixID("malware", n), modified, n)
}

const mod1, mod2, mod3 = "2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z", "2026-04-01T00:00:00.000Z"

// envelopeOf wraps raw JSON elements in a TAXII envelope.
func envelopeOf(elems ...string) []byte {
	return []byte(`{"objects":[` + strings.Join(elems, ",") + `]}`)
}

// storedRow is one stored version, as the store holds it.
type storedRow struct {
	DateAdded int64
	ID        string
	Version   string
	Raw       string
}

// stored reads every version the store holds, in date_added order: what a test
// compares before and after a request that must change nothing.
func stored(t testing.TB, st store.Store) []storedRow {
	t.Helper()
	var out []storedRow
	err := st.ScanObjects(context.Background(), store.Query{Versions: store.VersionMatch{All: true}, Limit: 1_000_000},
		func(store.Page) error { return nil },
		func(r store.Row) error {
			out = append(out, storedRow{r.DateAdded, r.ID, r.Version, string(r.Raw)})
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func storedRefs(rows []storedRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID + "@" + r.Version
	}
	slices.Sort(out)
	return out
}

// seed stores a few objects through the API and returns what the store then holds.
func seed(t testing.TB, b *bundle) []storedRow {
	t.Helper()
	b.post(t, "writer", "all", envelopeOf(indicator(1, mod1), indicator(1, mod2), malware(2, mod1))).accepted(t)
	rows := stored(t, b.st)
	if len(rows) != 3 {
		t.Fatalf("seeded %d versions, want 3", len(rows))
	}
	return rows
}

// unchanged fails unless the store holds exactly before, and the server still answers.
func unchanged(t testing.TB, b *bundle, before []storedRow) {
	t.Helper()
	if after := stored(t, b.st); !slices.Equal(after, before) {
		t.Fatalf("the store changed:\nbefore %v\nafter  %v", storedRefs(before), storedRefs(after))
	}
	b.get(t, "reader", b.root+"/").ok(t)
}

// statusURL is where taxii2-client looks for a status: urljoin(collection URL, "../../status/{id}").
func (b *bundle) statusURL(id string) string { return b.root + "/status/" + id }

func decodeJSON(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%.500s: %v", body, err)
	}
	return m
}

// storeOf is a new embedded store, for tests that need not run on every store.
func storeOf(t *testing.T) store.Store {
	t.Helper()
	return storetest.Stores(t)[0].New(t)
}

func stixLimits(size, depth, props int) stix.Limits {
	return stix.Limits{MaxObjectSize: size, MaxDepth: depth, MaxProperties: props}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
