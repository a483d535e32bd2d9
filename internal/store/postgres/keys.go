package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/store"
)

// firstKeyLock serialises CreateFirstKey across processes.
const firstKeyLock = 7_341_201_002

const keyColumns = `id::text, name, role, feeds, hash, created_at, last_used_at, revoked_at, source`

const insertKey = `INSERT INTO api_keys (id, name, role, feeds, hash, created_at, source) VALUES ($1, $2, $3, $4, $5, $6, $7)`

func scanKey(row pgx.Row) (store.APIKey, error) {
	var k store.APIKey
	var role string
	var used, revoked *time.Time
	err := row.Scan(&k.ID, &k.Name, &role, &k.Feeds, &k.Hash, &k.CreatedAt, &used, &revoked, &k.Source)
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

func keyArgs(k store.APIKey) []any {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now()
	}
	feeds := k.Feeds
	if feeds == nil {
		feeds = []string{}
	}
	return []any{k.ID, k.Name, string(k.Role), feeds, k.Hash, k.CreatedAt, store.KeySource(k)}
}

// CreateKey implements store.Keys.
func (s *Store) CreateKey(ctx context.Context, k store.APIKey) error {
	_, err := s.pool.Exec(ctx, insertKey, keyArgs(k)...)
	return interpretError(err)
}

// CreateFirstKey implements store.Keys.
func (s *Store) CreateFirstKey(ctx context.Context, k store.APIKey) (bool, error) {
	created := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, firstKeyLock); err != nil {
			return err
		}
		var any bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys)`).Scan(&any); err != nil || any {
			return err
		}
		if _, err := tx.Exec(ctx, insertKey, keyArgs(k)...); err != nil {
			return err
		}
		created = true
		return nil
	})
	return created, interpretError(err)
}

// GetKey implements store.Keys.
func (s *Store) GetKey(ctx context.Context, id string) (store.APIKey, error) {
	k, err := scanKey(s.lookups.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id::text = lower($1)`, id))
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
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id::text = lower($1) AND revoked_at IS NULL`, id)
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
	_, err := s.lookups.Exec(ctx, `UPDATE api_keys SET last_used_at = $2 WHERE id::text = lower($1)`, id, at)
	return interpretError(err)
}
