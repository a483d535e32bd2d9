package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

const (
	insertKey = `
INSERT INTO api_keys (id, name, role, feeds, hash, created_at, last_used_at, revoked_at, source)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// One statement, in a write transaction: no other writer can slip a key in between.
	insertFirstKey = `
INSERT INTO api_keys (id, name, role, feeds, hash, created_at, last_used_at, revoked_at, source)
SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?
WHERE NOT EXISTS (SELECT 1 FROM api_keys)`
	keyColumns = `id, name, role, feeds, hash, created_at, last_used_at, revoked_at, source, prev_hash, prev_valid_until`
	selectKey  = `SELECT ` + keyColumns + ` FROM api_keys WHERE id = ?`
	selectKeys = `SELECT ` + keyColumns + ` FROM api_keys ORDER BY created_at, id`
	revokeKey  = `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`
	touchKey   = `UPDATE api_keys SET last_used_at = ? WHERE id = ?`
	rotateKey  = `UPDATE api_keys SET prev_hash = hash, prev_valid_until = ?, hash = ? WHERE id = ? AND revoked_at IS NULL`
)

// CreateKey stores k; a zero CreatedAt becomes now. ErrConflict when the id exists.
func (s *Store) CreateKey(ctx context.Context, k store.APIKey) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	args, err := s.keyArgs(k)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, insertKey, args...)
	return interpretError(err)
}

// CreateFirstKey stores k only when there is no key at all and reports whether it did.
func (s *Store) CreateFirstKey(ctx context.Context, k store.APIKey) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	args, err := s.keyArgs(k)
	if err != nil {
		return false, err
	}
	var stored bool
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, insertFirstKey, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		stored = n == 1
		return err
	})
	return stored, interpretError(err)
}

// GetKey returns a key by id, revoked or not. ErrNotFound when none.
func (s *Store) GetKey(ctx context.Context, id string) (store.APIKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	k, err := scanKey(s.lookups.QueryRowContext(ctx, selectKey, canonicalID(id)))
	return k, interpretError(err)
}

// ListKeys returns every key, revoked ones included, by creation time.
func (s *Store) ListKeys(ctx context.Context) ([]store.APIKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, selectKeys)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var keys []store.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, interpretError(err)
		}
		keys = append(keys, k)
	}
	return keys, interpretError(rows.Err())
}

// RevokeKey marks a key revoked now. ErrNotFound when none or already revoked.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, revokeKey, s.now().UnixMicro(), canonicalID(id))
	return interpretError(oneRow(res, err))
}

// RotateKey implements store.Keys.
func (s *Store) RotateKey(ctx context.Context, id string, hash []byte, prevValidUntil time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, rotateKey, prevValidUntil.UnixMicro(), hash, canonicalID(id))
	return interpretError(oneRow(res, err))
}

// TouchKey sets last_used_at to at. A key deleted meanwhile is not an error:
// the contract names none, and the postgres store returns none.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.w.ExecContext(ctx, touchKey, at.UnixMicro(), canonicalID(id))
	return interpretError(err)
}

func (s *Store) keyArgs(k store.APIKey) ([]any, error) {
	if canonicalID(k.ID) == "" {
		return nil, fmt.Errorf("sqlite: key id %q is not a UUID", k.ID)
	}
	feeds, err := jsonList(k.Feeds)
	if err != nil {
		return nil, err
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	return []any{canonicalID(k.ID), k.Name, string(k.Role), feeds, k.Hash, k.CreatedAt.UnixMicro(),
		nullMicros(k.LastUsedAt), nullMicros(k.RevokedAt), store.KeySource(k)}, nil
}

func scanKey(row interface{ Scan(...any) error }) (store.APIKey, error) {
	var k store.APIKey
	var role, feeds string
	var created int64
	var lastUsed, revoked, prevUntil sql.NullInt64
	if err := row.Scan(&k.ID, &k.Name, &role, &feeds, &k.Hash, &created, &lastUsed, &revoked, &k.Source, &k.PrevHash, &prevUntil); err != nil {
		return store.APIKey{}, err
	}
	k.Role = store.Role(role)
	if err := json.Unmarshal([]byte(feeds), &k.Feeds); err != nil {
		return store.APIKey{}, err
	}
	k.CreatedAt = fromMicros(created)
	k.LastUsedAt = fromNullMicros(lastUsed)
	k.RevokedAt = fromNullMicros(revoked)
	k.PrevValidUntil = fromNullMicros(prevUntil)
	return k, nil
}
