package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/store"
)

// firstKeyLock serialises CreateFirstKey across processes.
const firstKeyLock = 7_341_201_002

const keyColumns = `id::text, name, role, feeds, hash, created_at, last_used_at, revoked_at, source, prev_hash, prev_valid_until`

// selectKey finds a key by its primary key: the id compares as a uuid (never
// id::text, which no index serves), parsed in Go.
const selectKey = `SELECT ` + keyColumns + ` FROM api_keys WHERE id = $1::uuid`

const insertKey = `INSERT INTO api_keys (id, name, role, feeds, hash, created_at, source) VALUES ($1, $2, $3, $4, $5, $6, $7)`

func scanKey(row pgx.Row) (store.APIKey, error) {
	var k store.APIKey
	var role string
	var used, revoked, prevUntil *time.Time
	err := row.Scan(&k.ID, &k.Name, &role, &k.Feeds, &k.Hash, &k.CreatedAt, &used, &revoked, &k.Source, &k.PrevHash, &prevUntil)
	if prevUntil != nil {
		k.PrevValidUntil = *prevUntil
	}
	k.Role = store.Role(role)
	if len(k.Feeds) == 0 {
		k.Feeds = nil
	}
	if used != nil {
		k.LastUsedAt = *used
	}
	if revoked != nil {
		k.RevokedAt = *revoked
	}
	return k, err
}

// keyArgs are the insert arguments of k; ok is false when its id is not a UUID.
func keyArgs(k store.APIKey) (args []any, ok bool) {
	id, ok := store.CanonicalUUID(k.ID)
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now()
	}
	feeds := k.Feeds
	if feeds == nil {
		feeds = []string{}
	}
	return []any{id, k.Name, string(k.Role), feeds, k.Hash, k.CreatedAt, store.KeySource(k)}, ok
}

// CreateKey implements store.Keys.
func (s *Store) CreateKey(ctx context.Context, k store.APIKey) error {
	args, ok := keyArgs(k)
	if !ok {
		return fmt.Errorf("postgres: key id %q is not a UUID", k.ID)
	}
	_, err := s.pool.Exec(ctx, insertKey, args...)
	return interpretError(err)
}

// CreateFirstKey implements store.Keys.
func (s *Store) CreateFirstKey(ctx context.Context, k store.APIKey) (bool, error) {
	args, ok := keyArgs(k)
	if !ok {
		return false, fmt.Errorf("postgres: key id %q is not a UUID", k.ID)
	}
	created := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, firstKeyLock); err != nil {
			return err
		}
		var any bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys)`).Scan(&any); err != nil || any {
			return err
		}
		if _, err := tx.Exec(ctx, insertKey, args...); err != nil {
			return err
		}
		created = true
		return nil
	})
	return created, interpretError(err)
}

// GetKey implements store.Keys.
func (s *Store) GetKey(ctx context.Context, id string) (store.APIKey, error) {
	uid, ok := store.CanonicalUUID(id)
	if !ok {
		return store.APIKey{}, store.ErrNotFound
	}
	k, err := scanKey(s.lookups.QueryRow(ctx, selectKey, uid))
	return k, interpretError(err)
}

// ListKeys implements store.Keys.
func (s *Store) ListKeys(ctx context.Context) ([]store.APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, interpretError(err)
		}
		out = append(out, k)
	}
	return out, interpretError(rows.Err())
}

// RevokeKey implements store.Keys.
func (s *Store) RevokeKey(ctx context.Context, id string) error {
	uid, ok := store.CanonicalUUID(id)
	if !ok {
		return store.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1::uuid AND revoked_at IS NULL`, uid)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// TouchKey implements store.Keys.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time) error {
	uid, ok := store.CanonicalUUID(id)
	if !ok {
		return nil
	}
	_, err := s.lookups.Exec(ctx, `UPDATE api_keys SET last_used_at = $2 WHERE id = $1::uuid`, uid, at)
	return interpretError(err)
}

// RotateKey implements store.Keys.
func (s *Store) RotateKey(ctx context.Context, id string, hash []byte, prevValidUntil time.Time) error {
	uid, ok := store.CanonicalUUID(id)
	if !ok {
		return store.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET prev_hash = hash, prev_valid_until = $3, hash = $2
		WHERE id = $1::uuid AND revoked_at IS NULL`, uid, hash, prevValidUntil)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
