package server

import (
	"crypto/sha256"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/inthreat/taxii-server/internal/auth"
	"github.com/inthreat/taxii-server/internal/metrics"
	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/taxii"
)

// The limiter keeps at most maxBuckets buckets; full buckets are dropped every sweepEvery
// (a full bucket and no bucket behave the same). A credential that authenticated is
// remembered for knownFor after its last use, among at most maxBuckets.
const (
	maxBuckets = 100_000
	sweepEvery = time.Minute
	knownFor   = time.Hour
)

// limiter is an in-process token bucket per API key: each replica counts on its own.
//
// It runs before authentication, so a flood is refused before it costs a key lookup.
// A key is known by the SHA-256 of its credential (the Basic password or the Bearer
// token), never the key itself. Only a credential that has authenticated gets a bucket
// of its own: every other request (no credential, a wrong one, or one not seen to
// work yet) draws from the bucket of its client address, as resolved through the
// trusted proxies. So random keys cannot each get a fresh bucket, and a caller
// cannot drain another key's bucket without its secret.
type limiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[[16]byte]*bucket
	known     map[[16]byte]time.Time // credentials that authenticated: when last used
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
	return &limiter{rate: rate, burst: float64(burst), now: now, buckets: map[[16]byte]*bucket{}, known: map[[16]byte]time.Time{}, lastSweep: now()}
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

// sweep drops the buckets that have refilled, then, if still too many, any;
// and the credentials unused for knownFor.
func (l *limiter) sweep(now time.Time) {
	l.lastSweep = now
	for id, last := range l.known {
		if now.Sub(last) >= knownFor {
			delete(l.known, id)
		}
	}
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

// digest names a bucket: kind ("key" or "client") and the credential or address.
func digest(kind, value string) [16]byte {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(value))
	var id [16]byte
	copy(id[:], h.Sum(nil))
	return id
}

// bucketOf is the bucket r draws from: its credential's once that has authenticated,
// else its client address's. cred is the credential's digest, zero when r has none.
func (l *limiter) bucketOf(r *http.Request) (id, cred [16]byte, known bool) {
	client := digest("client", obs.FromContext(r.Context()).Client())
	plain, err := auth.Credential(r.Header.Get("Authorization"))
	if err != nil || plain == "" {
		return client, [16]byte{}, false
	}
	cred = digest("key", plain)
	l.mu.Lock()
	_, known = l.known[cred]
	if known {
		l.known[cred] = l.now()
	}
	l.mu.Unlock()
	if known {
		return cred, cred, true
	}
	return client, cred, false
}

// learn remembers that cred authenticated, so that its requests get its own bucket.
func (l *limiter) learn(cred [16]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.known) >= maxBuckets {
		for id := range l.known {
			if len(l.known) < maxBuckets*9/10 {
				break
			}
			delete(l.known, id)
		}
	}
	l.known[cred] = l.now()
}

// findRoute is the pattern of the TAXII route r is for, found without routing it:
// for requests refused before the TAXII router routed them (rate limit, authentication).
// "" when routes is nil or no route matches.
func findRoute(routes chi.Routes, r *http.Request) string {
	if routes == nil {
		return ""
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet // the TAXII router answers HEAD as GET
	}
	p := routes.Find(chi.NewRouteContext(), method, r.URL.Path)
	if trimmed := strings.TrimSuffix(r.URL.Path, "/"); p == "" && trimmed != "" {
		p = routes.Find(chi.NewRouteContext(), method, trimmed) // the TAXII router strips slashes
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
			id, cred, known := l.bucketOf(r)
			ok, wait := l.allow(id)
			if ok {
				next.ServeHTTP(w, r)
				if !known && cred != ([16]byte{}) && obs.FromContext(r.Context()).Snapshot().KeyName != "" {
					l.learn(cred) // authentication succeeded (it names the key in obs)
				}
				return
			}
			m.RateLimited()
			if rctx := chi.RouteContext(r.Context()); rctx != nil {
				if p := findRoute(routes, r); p != "" {
					rctx.RoutePatterns = append(rctx.RoutePatterns, p)
				}
			}
			secs := max(1, int(math.Ceil(wait.Seconds())))
			who := "This API key"
			if !known {
				who = "This client address, with no API key that has authenticated,"
			}
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			taxii.WriteError(w, r, http.StatusTooManyRequests, "rate_limited",
				fmt.Sprintf("%s made more than %g requests per second on this server; retry after %d seconds.", who, l.rate, secs),
				obs.RequestID(r.Context()))
		})
	}
}
