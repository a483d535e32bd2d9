package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// A credential that failed (no such key, wrong secret, revoked) fails again
// without a key lookup for failureTTL: a client repeating a bad key costs the
// store one lookup per credential and TTL, not one per request. Short, so that a
// key used before it was created works soon after. At most maxFailures are kept.
const (
	failureTTL  = 30 * time.Second
	maxFailures = 10_000
)

// failures is the negative cache of credentials, known by their SHA-256.
type failures struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	m  map[[sha256.Size]byte]failure
}

type failure struct {
	err   error // the reason, logged again on every refusal
	until time.Time
}

func newFailures(ttl time.Duration, max int) *failures {
	return &failures{ttl: ttl, max: max, m: map[[sha256.Size]byte]failure{}}
}

// get returns the reason plain failed within the TTL, or nil.
func (f *failures) get(plain string, now time.Time) error {
	k := sha256.Sum256([]byte(plain))
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.m[k]
	if !ok {
		return nil
	}
	if !now.Before(e.until) {
		delete(f.m, k)
		return nil
	}
	return e.err
}

// put remembers that plain failed with err. When full, it drops the expired
// entries, and if that is not enough, all: the cache only saves lookups.
func (f *failures) put(plain string, err error, now time.Time) {
	k := sha256.Sum256([]byte(plain))
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) >= f.max {
		for k, e := range f.m {
			if !now.Before(e.until) {
				delete(f.m, k)
			}
		}
		if len(f.m) >= f.max {
			clear(f.m)
		}
	}
	f.m[k] = failure{err: err, until: now.Add(f.ttl)}
}
