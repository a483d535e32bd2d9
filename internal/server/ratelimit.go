package server

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/inthreat/taxii-server/internal/metrics"
	"github.com/inthreat/taxii-server/internal/obs"
)

// The limiter keeps at most maxBuckets buckets; full buckets are dropped every sweepEvery
// (a full bucket and no bucket behave the same).
const (
	maxBuckets = 100_000
	sweepEvery = time.Minute
)

// limiter is an in-process token bucket per API key: each replica counts on its own.
//
// It runs before authentication and knows a key by the SHA-256 of its credential
// (the Basic password or the Bearer token), never the key itself: a flood of requests
// is refused before it costs a key lookup, a caller cannot drain another key's bucket
// by sending that key's id with a wrong secret, and the TAXII code needs no hook.
// Requests without credentials share a bucket per client address.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[[16]byte]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	if burst < 1 {
		burst = 1
	}
	return &limiter{rate: rate, burst: float64(burst), now: now, buckets: map[[16]byte]*bucket{}, lastSweep: now()}
}

// allow takes a token from id's bucket, or says how long until one is there.
func (l *limiter) allow(id [16]byte) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.lastSweep) >= sweepEvery || len(l.buckets) >= maxBuckets {
		l.sweep(now)
	}
	b, ok := l.buckets[id]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[id] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep drops the buckets that have refilled, then, if still too many, any.
func (l *limiter) sweep(now time.Time) {
	l.lastSweep = now
	for id, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, id)
		}
	}
	for id := range l.buckets {
		if len(l.buckets) < maxBuckets*9/10 {
			break
		}
		delete(l.buckets, id)
	}
}

// identity is the bucket of r: a digest of its credential, else of its client address.
func identity(r *http.Request) [16]byte {
	h := sha256.New()
	if cred := credential(r.Header.Get("Authorization")); cred != "" {
		h.Write([]byte("key\x00"))
		h.Write([]byte(cred))
	} else {
		h.Write([]byte("client\x00"))
		h.Write([]byte(obs.FromContext(r.Context()).Client()))
	}
	var id [16]byte
	copy(id[:], h.Sum(nil))
	return id
}

// credential is the secret part of an Authorization header: the Basic password
// (any username works, so it is left out) or the Bearer token; else the whole header.
func credential(authz string) string {
	scheme, rest, _ := strings.Cut(authz, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Basic"):
		if raw, err := base64.StdEncoding.DecodeString(rest); err == nil {
			if _, pw, ok := strings.Cut(string(raw), ":"); ok {
				return pw
			}
		}
	case strings.EqualFold(scheme, "Bearer"):
		return rest
	}
	return authz
}

// findRoute is the pattern of the TAXII route r is for, found without routing it:
// for requests refused before the TAXII router routed them (rate limit, authentication).
// "" when routes is nil or no route matches.
func findRoute(routes chi.Routes, r *http.Request) string {
	if routes == nil {
		return ""
	}
	p := routes.Find(chi.NewRouteContext(), r.Method, r.URL.Path)
	if trimmed := strings.TrimSuffix(r.URL.Path, "/"); p == "" && trimmed != "" {
		p = routes.Find(chi.NewRouteContext(), r.Method, trimmed) // the TAXII router strips slashes
	}
	return p
}

// middleware refuses requests over the limit with 429, Retry-After (whole seconds,
// rounded up) and a TAXII error resource naming the request id. routes, when the
// TAXII handler is a chi router, names the route a refused request was for, so that
// its metrics and log line carry the pattern, as if it had been routed.
func (l *limiter) middleware(m *metrics.Metrics, routes chi.Routes) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ok, wait := l.allow(identity(r))
			if ok {
				next.ServeHTTP(w, r)
				return
			}
			m.RateLimited()
			if rctx := chi.RouteContext(r.Context()); rctx != nil {
				if p := findRoute(routes, r); p != "" {
					rctx.RoutePatterns = append(rctx.RoutePatterns, p)
				}
			}
			secs := max(1, int(math.Ceil(wait.Seconds())))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			w.Header().Set("Content-Type", TAXIIMediaType)
			w.WriteHeader(http.StatusTooManyRequests)
			id := obs.RequestID(r.Context())
			_, _ = fmt.Fprintf(w, `{"title":"Too Many Requests","description":"This API key made more than %g requests per second on this server; retry after %d seconds.","error_id":%q,"error_code":"rate_limited","http_status":"429","details":{"request_id":%q}}`,
				l.rate, secs, id, id)
		})
	}
}
