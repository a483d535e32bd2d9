// Package auth turns API keys into callers: it generates keys, checks HTTP Basic
// and Bearer credentials against the stored hashes, and says what a caller may do.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/inthreat/taxii-server/internal/store"
)

// Key format: "tk_" + hex(key id, 16 bytes) + "_" + base64url(secret, 32 bytes).
// The prefix lets secret scanners and humans recognise a key; the id makes the
// lookup one indexed read; the 256-bit random secret needs no slow password
// hash, so a plain SHA-256 is stored and compared in constant time.
const (
	keyPrefix    = "tk_"
	idHexLen     = 32
	secretLen    = 32
	secretB64Len = 43 // base64url without padding of 32 bytes
	keyLen       = len(keyPrefix) + idHexLen + 1 + secretB64Len
)

var secretEncoding = base64.RawURLEncoding.Strict()

// errMalformed is wrapped in ErrUnauthenticated by the middleware.
var errMalformed = errors.New("not an API key of the form tk_<id>_<secret>")

// Generate makes a new key for name with role, limited to feeds (empty: all feeds).
// It returns the plaintext, to show once, and the record to store.
func Generate(name string, role store.Role, feeds []string, now time.Time) (string, store.APIKey, error) {
	if !role.Valid() {
		return "", store.APIKey{}, fmt.Errorf("auth: unknown role %q", role)
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return "", store.APIKey{}, fmt.Errorf("auth: key id: %w", err)
	}
	secret := make([]byte, secretLen)
	if _, err := rand.Read(secret); err != nil {
		return "", store.APIKey{}, fmt.Errorf("auth: key secret: %w", err)
	}
	plain := keyPrefix + hex.EncodeToString(id[:]) + "_" + secretEncoding.EncodeToString(secret)
	k := store.APIKey{
		ID:        id.String(),
		Name:      name,
		Role:      role,
		Feeds:     append([]string(nil), feeds...),
		Hash:      hashSecret(secret),
		CreatedAt: now.UTC(),
	}
	return plain, k, nil
}

// ParseKey splits a plaintext key into its id (a UUID string, as store.APIKey.ID)
// and its secret.
func ParseKey(plain string) (id string, secret []byte, err error) {
	if len(plain) != keyLen || !strings.HasPrefix(plain, keyPrefix) || plain[len(keyPrefix)+idHexLen] != '_' {
		return "", nil, errMalformed
	}
	rawID, err := hex.DecodeString(plain[len(keyPrefix) : len(keyPrefix)+idHexLen])
	if err != nil {
		return "", nil, errMalformed
	}
	u, err := uuid.FromBytes(rawID)
	if err != nil {
		return "", nil, errMalformed
	}
	secret, err = secretEncoding.DecodeString(plain[len(keyPrefix)+idHexLen+1:])
	if err != nil || len(secret) != secretLen {
		return "", nil, errMalformed
	}
	return u.String(), secret, nil
}

// Regenerate makes a new secret for the key with id, for a rotation: the
// plaintext, to show once, and the hash to store.
func Regenerate(id string) (string, []byte, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", nil, fmt.Errorf("auth: key id %q: %w", id, err)
	}
	secret := make([]byte, secretLen)
	if _, err := rand.Read(secret); err != nil {
		return "", nil, fmt.Errorf("auth: key secret: %w", err)
	}
	return keyPrefix + hex.EncodeToString(u[:]) + "_" + secretEncoding.EncodeToString(secret), hashSecret(secret), nil
}

// Opens reports whether secret opens k at now: its current secret, or the one
// a rotation replaced until the grace period ends (PrevValidUntil).
func Opens(k store.APIKey, secret []byte, now time.Time) bool {
	if Matches(k, secret) {
		return true
	}
	return k.PrevHash != nil && now.Before(k.PrevValidUntil) &&
		subtle.ConstantTimeCompare(hashSecret(secret), k.PrevHash) == 1
}

// Matches reports, in constant time, whether secret is the one k was made with.
func Matches(k store.APIKey, secret []byte) bool {
	return subtle.ConstantTimeCompare(hashSecret(secret), k.Hash) == 1
}

func hashSecret(secret []byte) []byte {
	h := sha256.Sum256(secret)
	return h[:]
}
