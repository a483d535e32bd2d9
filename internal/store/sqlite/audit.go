package sqlite

import (
	"context"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

const (
	insertAudit = `INSERT INTO admin_audit (at, actor, actor_key_id, address, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`
	selectAudit = `SELECT id, at, actor, actor_key_id, address, action, target, detail
		FROM admin_audit WHERE id < ? ORDER BY id DESC LIMIT ?`
	trimAudit = `DELETE FROM admin_audit WHERE at < ?
		OR id <= (SELECT id FROM admin_audit ORDER BY id DESC LIMIT 1 OFFSET ?)`
)

// AddAudit implements store.Audit.
func (s *Store) AddAudit(ctx context.Context, e store.AuditEntry) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if e.At.IsZero() {
		e.At = s.now()
	}
	_, err := s.w.ExecContext(ctx, insertAudit, e.At.UnixMicro(), e.Actor, e.ActorKeyID, e.Address, e.Action, e.Target, e.Detail)
	return interpretError(err)
}

// ListAudit implements store.Audit: a backward walk of the primary key.
func (s *Store) ListAudit(ctx context.Context, before int64, limit int) ([]store.AuditEntry, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.r.QueryContext(ctx, selectAudit, before, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.ActorKeyID, &e.Address, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, interpretError(err)
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	return out, interpretError(rows.Err())
}

// TrimAudit implements store.Audit.
func (s *Store) TrimAudit(ctx context.Context, olderThan time.Time, keep int) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, trimAudit, olderThan.UnixMicro(), keep)
	if err != nil {
		return 0, interpretError(err)
	}
	n, err := res.RowsAffected()
	return int(n), interpretError(err)
}
