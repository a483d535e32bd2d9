package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/inthreat/taxii-server/internal/obs"
	"github.com/inthreat/taxii-server/internal/store"
)

// ErrUnauthenticated means the request carries no valid, active API key.
// Errors passed to Config.Fail wrap it with the reason, for the log only.
var ErrUnauthenticated = errors.New("unauthenticated")

// touchEvery bounds last-used writes to one per key per minute, not one per request.
const touchEvery = time.Minute

// KeyStore is what authentication needs from the store.
type KeyStore interface {
	// GetKey returns a key by id, revoked or not; store.ErrNotFound when none.
	GetKey(ctx context.Context, id string) (store.APIKey, error)
	// TouchKey sets the key's last-used time.
	TouchKey(ctx context.Context, id string, at time.Time) error
}

// Config wires the middleware.
type Config struct {
	Keys KeyStore
	Log  *zap.Logger
	// Fail writes the error response: an error wrapping ErrUnauthenticated (401),
	// or a store failure (500). The API renders every error in one place.
	Fail func(w http.ResponseWriter, r *http.Request, err error)
	Now  func() time.Time // nil: time.Now
}

// Middleware authenticates every request: HTTP Basic with the key as password
// (the username is ignored), or "Authorization: Bearer <key>". On success the
// Caller is in the request context, and the key's name in the request's
// observation record (obs), for the access log and metrics.
func Middleware(cfg Config) func(http.Handler) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	failed := newFailures(failureTTL, maxFailures)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := cfg.authenticate(r, failed)
			if err != nil {
				cfg.Fail(w, r, err)
				return
			}
			obs.FromContext(r.Context()).SetKey(c.KeyID, c.Name)
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
		})
	}
}

func (cfg Config) authenticate(r *http.Request, failed *failures) (*Caller, error) {
	plain, err := Credential(r.Header.Get("Authorization"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	id, secret, err := ParseKey(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	now := cfg.Now()
	if err := failed.get(plain, now); err != nil {
		return nil, err
	}
	k, err := lookup(r.Context(), cfg.Keys, id, secret, now)
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			failed.put(plain, err, now)
		}
		return nil, err
	}
	if now.Sub(k.LastUsedAt) >= touchEvery {
		// Last-used is bookkeeping: a failed write must not fail the request.
		if err := cfg.Keys.TouchKey(r.Context(), id, now.UTC()); err != nil {
			cfg.Log.Warn("record key use", zap.String("key_id", id), zap.Error(err))
		}
	}
	return &Caller{KeyID: k.ID, Name: k.Name, Role: k.Role, Feeds: k.Feeds, Source: store.KeySource(k)}, nil
}

// Check returns the active key that plain is, for a login form (the web console):
// an error wrapping ErrUnauthenticated when plain is malformed, unknown, wrong or
// revoked; another error when the store fails.
func Check(ctx context.Context, keys KeyStore, plain string, now time.Time) (store.APIKey, error) {
	id, secret, err := ParseKey(plain)
	if err != nil {
		return store.APIKey{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	return lookup(ctx, keys, id, secret, now)
}

// lookup is the one check of a parsed key against the store.
func lookup(ctx context.Context, keys KeyStore, id string, secret []byte, now time.Time) (store.APIKey, error) {
	k, err := keys.GetKey(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = fmt.Errorf("%w: no key %s", ErrUnauthenticated, id)
	case err != nil:
		return store.APIKey{}, fmt.Errorf("auth: get key %s: %w", id, err)
	case !Opens(k, secret, now):
		err = fmt.Errorf("%w: wrong secret for key %s", ErrUnauthenticated, id)
	case !k.RevokedAt.IsZero():
		err = fmt.Errorf("%w: key %s was revoked at %s", ErrUnauthenticated, id, k.RevokedAt.UTC().Format(time.RFC3339))
	case !k.Role.Valid():
		return store.APIKey{}, fmt.Errorf("auth: key %s has unknown role %q", id, k.Role)
	}
	if err != nil {
		return store.APIKey{}, err
	}
	return k, nil
}

// Credential is the API key an Authorization header carries: the password of
// Basic authentication (any username) or the Bearer token. It is the one parser
// of the header; the rate limiter uses it too.
func Credential(header string) (string, error) {
	if header == "" {
		return "", errors.New("no Authorization header")
	}
	scheme, rest, _ := strings.Cut(header, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", errors.New("the credentials of Basic authentication are not base64")
		}
		_, password, ok := strings.Cut(string(raw), ":")
		if !ok {
			return "", errors.New("the credentials of Basic authentication have no ':'")
		}
		return password, nil
	case strings.EqualFold(scheme, "Bearer"):
		return rest, nil
	}
	// The scheme is not echoed: a bare key sent without one would end up in the log.
	return "", errors.New("the Authorization scheme is neither Basic nor Bearer")
}
