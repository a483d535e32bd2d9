package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/inthreat/taxii-server/internal/taxii"
)

func TestTokenBucket(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(2, 3, c.now) // 2/s, burst 3
	a, b := [16]byte{1}, [16]byte{2}
	for i := range 3 {
		if ok, _ := l.allow(a); !ok {
			t.Fatalf("burst request %d refused", i+1)
		}
	}
	ok, wait := l.allow(a)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: ok=%v wait=%s, want refused for 500ms", ok, wait)
	}
	if ok, _ := l.allow(b); !ok {
		t.Fatal("another key is limited by the first")
	}
	c.advance(250 * time.Millisecond)
	if ok, wait := l.allow(a); ok || wait != 250*time.Millisecond {
		t.Fatalf("after 250ms: ok=%v wait=%s", ok, wait)
	}
	c.advance(250 * time.Millisecond)
	if ok, _ := l.allow(a); !ok {
		t.Fatal("refill after 500ms refused")
	}
	c.advance(time.Hour)
	for i := range 3 {
		if ok, _ := l.allow(a); !ok {
			t.Fatalf("the bucket does not refill to the burst only: request %d refused", i+1)
		}
	}
	if ok, _ := l.allow(a); ok {
		t.Fatal("the bucket refilled above the burst")
	}
	c.advance(sweepEvery)
	l.allow([16]byte{3})
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets after the sweep, want only the new one", n)
	}
}

func TestRateLimitMiddleware(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := setup(t, Options{RateLimit: 0.5, RateBurst: 2, Now: c.now})
	basic := func(user, key string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+key))}
	}
	path := "/api/root/collections/feed-1/objects/"
	// The fake API takes every key. The first request of a key draws from its client
	// address's bucket; once the key has authenticated, it has a bucket of its own.
	for i := range 3 {
		if resp, _ := f.do(t, "GET", path, basic("a", "key-1")); resp.StatusCode != 200 {
			t.Fatalf("request %d: %s", i+1, resp.Status)
		}
	}
	// Another username, same key: same bucket.
	resp, body := f.do(t, "GET", path, basic("b", "key-1"))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" || resp.Header.Get("Content-Type") != taxii.MediaTypeTAXII {
		t.Fatalf("over the limit: %s Retry-After=%q %s", resp.Status, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"))
	}
	var e struct {
		Title      string `json:"title"`
		HTTPStatus string `json:"http_status"`
		ErrorID    string `json:"error_id"`
		Details    struct {
			RequestID string `json:"request_id"`
		} `json:"details"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.HTTPStatus != "429" || e.ErrorID == "" || e.Details.RequestID != resp.Header.Get("X-Request-Id") || e.Title == "" {
		t.Fatalf("429 body %s: %v", body, err)
	}
	if resp, _ := f.do(t, "GET", path, map[string]string{"Authorization": "Bearer key-2"}); resp.StatusCode != 200 {
		t.Fatalf("another key: %s", resp.Status)
	}
	if resp, _ := f.do(t, "GET", "/healthz", basic("a", "key-1")); resp.StatusCode != 200 {
		t.Fatalf("probes are not rate limited: %s", resp.Status)
	}
	c.advance(2 * time.Second)
	if resp, _ := f.do(t, "GET", path, map[string]string{"Authorization": "Bearer key-1"}); resp.StatusCode != 200 {
		t.Fatalf("after Retry-After, Bearer with the same key: %s", resp.Status)
	}
	// Without credentials: a bucket per client address, of which key-2 took one
	// token and which has refilled one since.
	if resp, _ := f.do(t, "GET", path, nil); resp.StatusCode != 200 {
		t.Fatalf("anonymous request: %s", resp.Status)
	}
	if resp, _ := f.do(t, "GET", path, nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("anonymous requests are not limited per client: %s", resp.Status)
	}
	if v, _ := metricValue(t, f.reg, "taxii_http_rate_limited_total", nil); v != 2 {
		t.Fatalf("rate_limited_total = %v, want 2", v)
	}
	if v, _ := metricValue(t, f.reg, "taxii_http_requests_total", map[string]string{"status": "429", "route": "/api/root/collections/{collection}/objects"}); v != 2 {
		t.Fatalf("429s counted %v times under their route pattern", v)
	}
}

func TestRateLimitOffByDefault(t *testing.T) {
	f := setup(t, Options{})
	for i := range 50 {
		if resp, _ := f.do(t, "GET", "/api/root/collections/f/objects/", map[string]string{"Authorization": "Bearer k"}); resp.StatusCode != 200 {
			t.Fatalf("request %d limited without TAXII_RATE_LIMIT: %s", i, resp.Status)
		}
	}
}
