package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/store"
)

// AddAudit implements store.Audit.
func (s *Store) AddAudit(ctx context.Context, e store.AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO admin_audit (at, actor, actor_key_id, address, action, target, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.At, e.Actor, e.ActorKeyID, e.Address, e.Action, e.Target, e.Detail)
	return interpretError(err)
}

// ListAudit implements store.Audit: a backward walk of the primary key.
func (s *Store) ListAudit(ctx context.Context, before int64, limit int) ([]store.AuditEntry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, actor_key_id, address, action, target, detail
		FROM admin_audit WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AuditEntry, error) {
		var e store.AuditEntry
		err := row.Scan(&e.ID, &e.At, &e.Actor, &e.ActorKeyID, &e.Address, &e.Action, &e.Target, &e.Detail)
		return e, err
	})
	return out, interpretError(err)
}

// TrimAudit implements store.Audit.
func (s *Store) TrimAudit(ctx context.Context, olderThan time.Time, keep int) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM admin_audit WHERE at < $1
		OR id <= (SELECT id FROM admin_audit ORDER BY id DESC OFFSET $2 LIMIT 1)`, olderThan, keep)
	if err != nil {
		return 0, interpretError(err)
	}
	return int(tag.RowsAffected()), nil
}
