package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/config"
	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/sqlite/sqlitetest"
	"github.com/inthreat/taxii-server/internal/taxii"
)

const (
	apiRoot = "/api/v2/inthreat/taxii-server"
	feedA   = "9a0c2e3c-8f6a-4b1e-9d44-0c5a1e7b2f01"
	feedB   = "4f1d7c6e-2b3a-4c5d-8e9f-a0b1c2d3e4f5"
)

// countingKeys counts the key lookups authentication makes.
type countingKeys struct {
	store.Store
	lookups atomic.Int64
}

func (c *countingKeys) GetKey(ctx context.Context, id string) (store.APIKey, error) {
	c.lookups.Add(1)
	return c.Store.GetKey(ctx, id)
}

// real is the assembled server: the real TAXII API on the embedded store behind New.
type real struct {
	srv  *httptest.Server
	st   *countingKeys
	keys map[string]string // plaintext keys by name
	logs *observer.ObservedLogs
}

// assemble starts New(o) around the real TAXII API, with two writable feeds A and B,
// an indicator in A, and keys "admin", "reader", "writer" and "adminA" (admin limited to A).
func assemble(t *testing.T, o Options) *real {
	t.Helper()
	ctx := context.Background()
	st := &countingKeys{Store: sqlitetest.New(t)}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{feedA, feedB} {
		f := store.Feed{ID: id, Title: "feed " + id[:4], Alias: []string{"a", "b"}[i], Writable: true, CreatedAt: created.Add(time.Duration(i) * time.Minute)}
		if err := st.CreateFeed(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	r := &real{st: st, keys: map[string]string{}}
	for _, k := range []struct {
		name  string
		role  store.Role
		feeds []string
	}{{"admin", store.RoleAdmin, nil}, {"reader", store.RoleReadOnly, nil}, {"writer", store.RoleReadWrite, nil}, {"adminA", store.RoleAdmin, []string{feedA}}} {
		plain, key, err := auth.Generate(k.name, k.role, k.feeds, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		r.keys[k.name] = plain
	}
	obj := `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2026-01-02T03:04:05.000Z","modified":"2026-01-02T03:04:05.000Z","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2026-01-02T03:04:05Z"}`
	if _, err := st.AddObjects(ctx, []store.Object{{ID: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", Type: "indicator", SpecVersion: "2.1",
		Created: "2026-01-02T03:04:05.000Z", Modified: "2026-01-02T03:04:05.000Z", Raw: []byte(obj)}}); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	r.logs = logs
	log := zap.New(core)
	api, err := taxii.NewHandler(taxiiOptions(), st, log)
	if err != nil {
		t.Fatal(err)
	}
	o.TAXII, o.Store, o.Log = api, okPinger{}, log
	r.srv = httptest.NewServer(New(o))
	t.Cleanup(r.srv.Close)
	return r
}

// taxiiOptions are the options serve passes with the default configuration.
func taxiiOptions() taxii.Options {
	return taxii.OptionsFrom(config.Default())
}

// do sends one request with key's Bearer credential ("" for none, or a raw
// "Authorization" value when it has a space) and reads the answer.
func (r *real) do(t *testing.T, method, path, key string, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", taxii.MediaTypeTAXII)
	if body != "" {
		req.Header.Set("Content-Type", taxii.MediaTypeTAXII)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestHEADOnEveryTAXIIEndpoint: through the assembled server (whose outer router
// records the method before the TAXII router sees it) HEAD answers as GET, without a body.
func TestHEADOnEveryTAXIIEndpoint(t *testing.T) {
	r := assemble(t, Options{RateLimit: 1000, RateBurst: 1000})
	resp, body := r.do(t, "POST", apiRoot+"/collections/"+feedA+"/objects/", r.keys["admin"], `{"objects":[]}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("add objects: %s %s", resp.Status, body)
	}
	statusID := body[strings.Index(body, `"id":"`)+6:][:36]
	obj := "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
	for _, path := range []string{
		"/taxii2/", apiRoot + "/", apiRoot + "/status/" + statusID + "/", apiRoot + "/collections/",
		apiRoot + "/collections/" + feedA + "/", apiRoot + "/collections/" + feedA + "/manifest/",
		apiRoot + "/collections/" + feedA + "/objects/", apiRoot + "/collections/" + feedA + "/objects/" + obj + "/",
		apiRoot + "/collections/" + feedA + "/objects/" + obj + "/versions/",
	} {
		get, getBody := r.do(t, "GET", path, r.keys["admin"], "")
		head, headBody := r.do(t, "HEAD", path, r.keys["admin"], "")
		if get.StatusCode != 200 || head.StatusCode != 200 {
			t.Errorf("%s: GET %s, HEAD %s (Allow %q) %s", path, get.Status, head.Status, head.Header.Get("Allow"), getBody)
			continue
		}
		if headBody != "" {
			t.Errorf("HEAD %s has a body: %q", path, headBody)
		}
		for _, h := range []string{"Content-Type", "X-Taxii-Date-Added-First", "X-Taxii-Date-Added-Last"} {
			if get.Header.Get(h) != head.Header.Get(h) {
				t.Errorf("%s: %s is %q on GET, %q on HEAD", path, h, get.Header.Get(h), head.Header.Get(h))
			}
		}
	}
	// HEAD is authenticated like GET.
	if resp, _ := r.do(t, "HEAD", apiRoot+"/collections/", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("HEAD without a key: %s", resp.Status)
	}
}

// TestFeedLimitedAdminReadsOnlyItsFeedsStatus: an admin key limited to feed A does
// not read the status of a request that added to feed B; an unlimited admin does.
func TestFeedLimitedAdminReadsOnlyItsFeedsStatus(t *testing.T) {
	r := assemble(t, Options{})
	statusOf := func(feed string) string {
		t.Helper()
		resp, body := r.do(t, "POST", apiRoot+"/collections/"+feed+"/objects/", r.keys["admin"], `{"objects":[]}`)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("add objects to %s: %s %s", feed, resp.Status, body)
		}
		return apiRoot + "/status/" + body[strings.Index(body, `"id":"`)+6:][:36] + "/"
	}
	onA, onB := statusOf(feedA), statusOf(feedB)
	for _, c := range []struct {
		key, path string
		want      int
	}{
		{"adminA", onA, 200}, {"adminA", onB, 404}, {"admin", onA, 200}, {"admin", onB, 200},
	} {
		if resp, body := r.do(t, "GET", c.path, r.keys[c.key], ""); resp.StatusCode != c.want {
			t.Errorf("%s reads %s: %s %s, want %d", c.key, c.path, resp.Status, body, c.want)
		}
	}
}

// unknownKey is a well-formed API key that no store holds.
func unknownKey(t *testing.T) string {
	t.Helper()
	plain, _, err := auth.Generate("nobody", store.RoleReadOnly, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// TestRateLimitNotBypassedByRandomKeys: requests whose credentials have not
// authenticated draw from their client address's bucket (the address resolved through
// the trusted proxies), so a flood of random keys is refused before it costs key
// lookups, while keys that have authenticated keep their own buckets.
func TestRateLimitNotBypassedByRandomKeys(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := assemble(t, Options{RateLimit: 1, RateBurst: 5, Now: c.now, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	from := func(addr string) []string { return []string{"X-Forwarded-For", addr} }
	path := apiRoot + "/collections/"
	if resp, body := r.do(t, "GET", path, r.keys["reader"], "", from("198.51.100.1")...); resp.StatusCode != 200 {
		t.Fatalf("reader: %s %s", resp.Status, body)
	}
	before := r.st.lookups.Load()
	statuses := map[int]int{}
	for range 50 {
		resp, _ := r.do(t, "GET", path, unknownKey(t), "", from("198.51.100.1")...)
		statuses[resp.StatusCode]++
	}
	// The address had 5 tokens; the reader's first request took one.
	if statuses[401] != 4 || statuses[429] != 46 {
		t.Fatalf("50 random keys from one address: %v, want 4 401s then 46 429s", statuses)
	}
	if n := r.st.lookups.Load() - before; n != 4 {
		t.Fatalf("50 random keys cost %d key lookups, want 4", n)
	}
	// A key that has authenticated has its own bucket, even from the flooded address.
	if resp, body := r.do(t, "GET", path, r.keys["reader"], "", from("198.51.100.1")...); resp.StatusCode != 200 {
		t.Fatalf("reader after the flood: %s %s", resp.Status, body)
	}
	// Other addresses are not affected, and a client cannot pick its address unless
	// through a trusted proxy: the flood came, as far as the limiter knows, from 198.51.100.1.
	if resp, body := r.do(t, "GET", path, unknownKey(t), "", from("198.51.100.2")...); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("random key from another address: %s %s", resp.Status, body)
	}
	resp, body := r.do(t, "GET", path, unknownKey(t), "", from("198.51.100.1")...)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, `"error_code":"rate_limited"`) {
		t.Fatalf("flooded address: %s %s", resp.Status, body)
	}
}

// TestFailedKeyLookupIsCached: a credential that failed fails again without a key
// lookup, whether the key does not exist, its secret is wrong or it was revoked.
func TestFailedKeyLookupIsCached(t *testing.T) {
	r := assemble(t, Options{})
	path := apiRoot + "/collections/"
	const idPart = len("tk_") + 32 + 1 // tk_<id>_
	wrongSecret := r.keys["reader"][:idPart] + unknownKey(t)[idPart:]
	for name, key := range map[string]string{"unknown key": unknownKey(t), "wrong secret": wrongSecret} {
		before := r.st.lookups.Load()
		for i := range 20 {
			if resp, body := r.do(t, "GET", path, key, ""); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s, request %d: %s %s", name, i, resp.Status, body)
			}
		}
		if n := r.st.lookups.Load() - before; n != 1 {
			t.Errorf("%s: 20 requests cost %d key lookups, want 1", name, n)
		}
	}
	// The right key of the same id is not refused by the cache.
	if resp, body := r.do(t, "GET", path, r.keys["reader"], ""); resp.StatusCode != 200 {
		t.Fatalf("reader after its id failed with a wrong secret: %s %s", resp.Status, body)
	}
	// Every refusal is logged with its reason, cached or not, on the request's one line.
	if n := r.logs.FilterMessage("request").FilterField(zap.String("error_code", "unauthorized")).Len(); n != 40 {
		t.Errorf("%d refusals logged, want 40", n)
	}
	if n := r.logs.FilterMessage("request rejected").Len(); n != 0 {
		t.Errorf("%d refusals logged on a second line", n)
	}
}

// TestClientResetMidPageIsNotAnError: a client that resets its connection while a
// page streams (the server sees a reset or a broken pipe, not only a canceled
// context) is logged as the client leaving, at Warn, never at Error.
func TestClientResetMidPageIsNotAnError(t *testing.T) {
	r := assemble(t, Options{})
	// About 10 MB of objects: more than the socket buffers hold, so the server is
	// still writing when the reset comes.
	pad := strings.Repeat("x", 1200)
	objs := make([]store.Object, 8000)
	for i := range objs {
		id := fmt.Sprintf("indicator--%08d-0000-4000-8000-000000000000", i)
		objs[i] = store.Object{ID: id, Type: "indicator", SpecVersion: "2.1", Created: "2026-01-01T00:00:00.000Z", Modified: "2026-01-01T00:00:00.000Z",
			Raw: []byte(`{"type":"indicator","spec_version":"2.1","id":"` + id + `","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","description":"` + pad + `"}`)}
	}
	if _, err := r.st.AddObjects(context.Background(), objs); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	tcp := conn.(*net.TCPConn)
	_ = tcp.SetReadBuffer(4096)
	_, err = fmt.Fprintf(conn, "GET %s/collections/%s/objects/?limit=10000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", apiRoot, feedA, r.keys["reader"])
	if err != nil {
		t.Fatal(err)
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("page: %q %v", status, err)
	}
	_ = tcp.SetLinger(0) // Close sends a reset
	conn.Close()

	eventually(t, 10*time.Second, "the cut page is logged", func() bool {
		return r.logs.FilterMessageSnippet("page stream").Len() > 0
	})
	if n := r.logs.FilterMessage("page stream abandoned by client").FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
		t.Errorf("%d warnings that the client left, want 1", n)
	}
	for _, e := range r.logs.FilterLevelExact(zapcore.ErrorLevel).All() {
		t.Errorf("logged at error level: %s %v", e.Message, e.ContextMap())
	}
}
