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
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := cfg.authenticate(r)
			if err != nil {
				cfg.Fail(w, r, err)
				return
			}
			obs.FromContext(r.Context()).SetKey(c.Name)
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
		})
	}
}

func (cfg Config) authenticate(r *http.Request) (*Caller, error) {
	plain, err := credentials(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	id, secret, err := ParseKey(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	k, err := cfg.Keys.GetKey(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: no key %s", ErrUnauthenticated, id)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: get key %s: %w", id, err)
	}
	if !Matches(k, secret) {
		return nil, fmt.Errorf("%w: wrong secret for key %s", ErrUnauthenticated, id)
	}
	if !k.RevokedAt.IsZero() {
		return nil, fmt.Errorf("%w: key %s was revoked at %s", ErrUnauthenticated, id, k.RevokedAt.UTC().Format(time.RFC3339))
	}
	if !k.Role.Valid() {
		return nil, fmt.Errorf("auth: key %s has unknown role %q", id, k.Role)
	}
	if now := cfg.Now(); now.Sub(k.LastUsedAt) >= touchEvery {
		// Last-used is bookkeeping: a failed write must not fail the request.
		if err := cfg.Keys.TouchKey(r.Context(), id, now.UTC()); err != nil {
			cfg.Log.Warn("record key use", zap.String("key_id", id), zap.Error(err))
		}
	}
	return &Caller{KeyID: k.ID, Name: k.Name, Role: k.Role, Feeds: k.Feeds, Source: store.KeySource(k)}, nil
}

// credentials returns the key from Basic (password) or Bearer authorization.
func credentials(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", errors.New("no Authorization header")
	}
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", errors.New("Basic credentials are not base64")
		}
		_, password, ok := strings.Cut(string(raw), ":")
		if !ok {
			return "", errors.New("Basic credentials have no ':'")
		}
		return password, nil
	case strings.EqualFold(scheme, "Bearer"):
		return rest, nil
	}
	// The scheme is not echoed: a bare key sent without one would end up in the log.
	return "", errors.New("Authorization scheme is neither Basic nor Bearer")
}
