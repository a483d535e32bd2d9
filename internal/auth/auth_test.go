package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
)

// memKeys is the two-method KeyStore, in memory, counting touches.
type memKeys struct {
	mu      sync.Mutex
	keys    map[string]store.APIKey
	touches int
	fail    error
}

func (m *memKeys) GetKey(_ context.Context, id string) (store.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return store.APIKey{}, m.fail
	}
	k, ok := m.keys[id]
	if !ok {
		return store.APIKey{}, store.ErrNotFound
	}
	return k, nil
}

func (m *memKeys) TouchKey(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.keys[id]
	k.LastUsedAt = at
	m.keys[id] = k
	m.touches++
	return nil
}

func TestGenerateAndParse(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	plain, k, err := Generate("sentinel", store.RoleReadOnly, []string{"f1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != keyLen || !strings.HasPrefix(plain, "tk_") {
		t.Fatalf("plaintext %q: want tk_ prefix and %d chars", plain, keyLen)
	}
	if strings.Contains(plain, string(k.Hash)) || len(k.Hash) != 32 {
		t.Fatalf("hash: %x", k.Hash)
	}
	if k.Name != "sentinel" || k.Role != store.RoleReadOnly || !k.CreatedAt.Equal(now) || len(k.Feeds) != 1 {
		t.Fatalf("key record: %+v", k)
	}
	id, secret, err := ParseKey(plain)
	if err != nil {
		t.Fatal(err)
	}
	if id != k.ID {
		t.Fatalf("parsed id %s, want %s", id, k.ID)
	}
	if !Matches(k, secret) {
		t.Fatal("secret does not match its own key")
	}
	other, _, _ := Generate("x", store.RoleAdmin, nil, now)
	_, otherSecret, _ := ParseKey(other)
	if Matches(k, otherSecret) {
		t.Fatal("another key's secret matches")
	}
	if _, _, err := Generate("x", store.Role("root"), nil, now); err == nil {
		t.Fatal("unknown role accepted")
	}
}

func TestParseKeyRejects(t *testing.T) {
	plain, _, _ := Generate("x", store.RoleReadOnly, nil, time.Now())
	cases := map[string]string{
		"empty":          "",
		"no prefix":      "xx" + plain[2:],
		"short":          plain[:len(plain)-1],
		"long":           plain + "A",
		"bad hex":        "tk_" + strings.Repeat("z", 32) + plain[35:],
		"no separator":   plain[:35] + "-" + plain[36:],
		"bad base64":     plain[:36] + strings.Repeat("*", 43),
		"non-canonical":  plain[:len(plain)-1] + nonCanonicalLast(plain),
		"padding inside": plain[:len(plain)-2] + "==",
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := ParseKey(s); err == nil {
				t.Fatalf("ParseKey(%q) accepted", s)
			}
		})
	}
}

// nonCanonicalLast flips the unused low bits of the last base64 character.
func nonCanonicalLast(plain string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, plain[len(plain)-1])
	return string(alphabet[i^1])
}

func TestCallerPermissions(t *testing.T) {
	ro := &Caller{Role: store.RoleReadOnly}
	rw := &Caller{Role: store.RoleReadWrite, Feeds: []string{"a"}}
	admin := &Caller{Role: store.RoleAdmin}
	var none *Caller
	writable := store.Feed{ID: "a", Writable: true}
	readOnlyFeed := store.Feed{ID: "a"}
	otherWritable := store.Feed{ID: "b", Writable: true}

	checks := []struct {
		name string
		got  bool
		want bool
	}{
		{"read-only reads any feed", ro.CanRead("z"), true},
		{"read-only cannot write", ro.CanWrite(writable), false},
		{"limited key reads its feed", rw.CanRead("a"), true},
		{"limited key cannot read others", rw.CanRead("b"), false},
		{"read-write writes writable feed", rw.CanWrite(writable), true},
		{"nobody writes a read-only feed", admin.CanWrite(readOnlyFeed), false},
		{"limited key cannot write other feed", rw.CanWrite(otherWritable), false},
		{"admin writes writable feed", admin.CanWrite(otherWritable), true},
		{"admin is admin", admin.IsAdmin(), true},
		{"read-write is not admin", rw.IsAdmin(), false},
		{"nil caller reads nothing", none.CanRead("a"), false},
		{"nil caller is not admin", none.IsAdmin(), false},
		{"unknown role reads nothing", (&Caller{Role: "root"}).CanRead("a"), false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v", c.name, c.got)
		}
	}
}

type fixture struct {
	srv   *httptest.Server
	keys  *memKeys
	plain map[string]string // by key name
	clock *time.Time
}

func setup(t *testing.T) *fixture {
	t.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := &fixture{keys: &memKeys{keys: map[string]store.APIKey{}}, plain: map[string]string{}, clock: &now}
	for _, spec := range []struct {
		name    string
		role    store.Role
		revoked bool
	}{{"reader", store.RoleReadOnly, false}, {"revoked", store.RoleReadOnly, true}, {"admin", store.RoleAdmin, false}} {
		plain, k, err := Generate(spec.name, spec.role, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		if spec.revoked {
			k.RevokedAt = now
		}
		f.keys.keys[k.ID] = k
		f.plain[spec.name] = plain
	}
	mw := Middleware(Config{
		Keys: f.keys,
		Log:  zaptest.NewLogger(t),
		Now:  func() time.Time { return *f.clock },
		Fail: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, ErrUnauthenticated) {
				w.WriteHeader(http.StatusUnauthorized)
			} else {
				w.WriteHeader(http.StatusInternalServerError)
			}
			_, _ = io.WriteString(w, err.Error())
		},
	})
	f.srv = httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := FromContext(r.Context())
		_, _ = io.WriteString(w, c.Name+" "+string(c.Role))
	})))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) get(t *testing.T, authz string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL, nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestMiddleware(t *testing.T) {
	f := setup(t)
	reader := f.plain["reader"]
	cases := []struct {
		name   string
		authz  string
		status int
		body   string
	}{
		{"basic any username", basic("whoever", reader), 200, "reader read-only"},
		{"basic empty username", basic("", reader), 200, "reader read-only"},
		{"bearer", "Bearer " + reader, 200, "reader read-only"},
		{"lower-case scheme", "bearer " + f.plain["admin"], 200, "admin admin"},
		{"no header", "", 401, "no Authorization header"},
		{"key as username", basic(reader, ""), 401, "not an API key"},
		{"wrong secret", "Bearer " + reader[:40] + strings.Repeat("A", 39), 401, "wrong secret"},
		{"unknown id", "Bearer tk_" + strings.Repeat("0", 32) + reader[35:], 401, "no key"},
		{"revoked", "Bearer " + f.plain["revoked"], 401, "revoked"},
		{"garbage basic", "Basic !!!", 401, "not base64"},
		{"basic without colon", "Basic " + base64.StdEncoding.EncodeToString([]byte(reader)), 401, "no ':'"},
		{"bare key", reader, 401, "neither Basic nor Bearer"},
		{"digest", "Digest abc", 401, "neither Basic nor Bearer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := f.get(t, c.authz)
			if status != c.status || !strings.Contains(body, c.body) {
				t.Fatalf("got %d %q, want %d containing %q", status, body, c.status, c.body)
			}
		})
	}
	if _, body := f.get(t, reader); strings.Contains(body, reader) {
		t.Fatal("a bare key ends up in the error text")
	}
}

func TestMiddlewareStoreFailureIsNot401(t *testing.T) {
	f := setup(t)
	f.keys.fail = errors.New("connection refused")
	status, body := f.get(t, "Bearer "+f.plain["reader"])
	if status != 500 || !strings.Contains(body, "connection refused") {
		t.Fatalf("got %d %q", status, body)
	}
}

func TestLastUsedWrittenAtMostOncePerMinute(t *testing.T) {
	f := setup(t)
	authz := "Bearer " + f.plain["reader"]
	for range 5 {
		f.get(t, authz)
	}
	if f.keys.touches != 1 {
		t.Fatalf("%d touches for 5 requests in the same minute, want 1", f.keys.touches)
	}
	*f.clock = f.clock.Add(59 * time.Second)
	f.get(t, authz)
	if f.keys.touches != 1 {
		t.Fatalf("touched again after 59s")
	}
	*f.clock = f.clock.Add(time.Second)
	f.get(t, authz)
	if f.keys.touches != 2 {
		t.Fatalf("%d touches after a minute, want 2", f.keys.touches)
	}
}

func TestMiddlewareRecordsTheKeyName(t *testing.T) {
	f := setup(t)
	cases := []struct {
		name, authz, want string
	}{
		{"authenticated", "Bearer " + f.plain["reader"], "reader"},
		{"refused", "Bearer " + f.plain["revoked"], ""},
		{"anonymous", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info := obs.New(obs.Request{ID: "req-1"})
			mw := Middleware(Config{Keys: f.keys, Fail: func(w http.ResponseWriter, _ *http.Request, _ error) {
				w.WriteHeader(http.StatusUnauthorized)
			}})
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if c.authz != "" {
				req.Header.Set("Authorization", c.authz)
			}
			req = req.WithContext(obs.NewContext(req.Context(), info))
			mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(httptest.NewRecorder(), req)
			if got := info.Snapshot().KeyName; got != c.want {
				t.Fatalf("recorded key name %q, want %q", got, c.want)
			}
		})
	}
	// Without a record in the context (unit tests, other callers) nothing breaks.
	if status, _ := f.get(t, "Bearer "+f.plain["reader"]); status != 200 {
		t.Fatalf("status %d without an observation record", status)
	}
}
