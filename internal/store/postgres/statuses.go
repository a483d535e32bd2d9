package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/store"
)

// statusArgs are the columns of st in table order; ok is false when its id is not a UUID.
func statusArgs(st store.Status) (args []any, ok bool) {
	id, ok := store.CanonicalUUID(st.ID)
	return []any{id, st.FeedID, st.KeyID, st.Status, st.RequestTimestamp,
		st.TotalCount, st.SuccessCount, st.FailureCount, st.PendingCount,
		store.EncodeStatusObjects(st.Successes), store.EncodeStatusObjects(st.Failures), store.EncodeStatusObjects(st.Pendings),
		st.ExpiresAt}, ok
}

// selectStatus finds a live status by its primary key, the id compared as a
// uuid, without its lists.
const selectStatus = `SELECT id::text, feed_id::text, key_id, status, request_timestamp,
		total_count, success_count, failure_count, pending_count, expires_at
		FROM statuses WHERE id = $1::uuid AND expires_at > $2`

// selectStatusEntries are the entries of a status, a row each, list by list (0
// successes, 1 failures, 2 pendings: store.StatusList's values) in stored order.
// The server sorts them (on disk past work_mem); the client holds a row at a time.
const selectStatusEntries = `SELECT l.n, COALESCE(e.value->>'id', ''), COALESCE(e.value->>'version', ''),
		COALESCE(e.value->>'message', '')
		FROM statuses s
		CROSS JOIN LATERAL (VALUES (0, s.successes), (1, s.failures), (2, s.pendings)) AS l(n, list)
		CROSS JOIN LATERAL jsonb_array_elements(l.list) WITH ORDINALITY AS e(value, ord)
		WHERE s.id = $1::uuid
		ORDER BY l.n, e.ord`

// CreateStatus implements store.Statuses.
func (s *Store) CreateStatus(ctx context.Context, st store.Status) error {
	args, ok := statusArgs(st)
	if !ok {
		return fmt.Errorf("postgres: status id %q is not a UUID", st.ID)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO statuses (id, feed_id, key_id, status, request_timestamp,
		total_count, success_count, failure_count, pending_count, successes, failures, pendings, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12::jsonb, $13)`, args...)
	return interpretError(err)
}

// UpdateStatus implements store.Statuses.
func (s *Store) UpdateStatus(ctx context.Context, st store.Status) error {
	args, ok := statusArgs(st)
	if !ok {
		return store.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `UPDATE statuses SET feed_id = $2, key_id = $3, status = $4, request_timestamp = $5,
		total_count = $6, success_count = $7, failure_count = $8, pending_count = $9,
		successes = $10::jsonb, failures = $11::jsonb, pendings = $12::jsonb, expires_at = $13
		WHERE id = $1::uuid`, args...)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ScanStatus implements store.Statuses.
func (s *Store) ScanStatus(ctx context.Context, id string, now time.Time, begin func(store.Status) error, each func(store.StatusList, store.StatusObject) error) error {
	uid, ok := store.CanonicalUUID(id)
	if !ok {
		return store.ErrNotFound
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return interpretError(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only; nothing to keep

	var st store.Status
	err = tx.QueryRow(ctx, selectStatus, uid, now).Scan(
		&st.ID, &st.FeedID, &st.KeyID, &st.Status, &st.RequestTimestamp,
		&st.TotalCount, &st.SuccessCount, &st.FailureCount, &st.PendingCount, &st.ExpiresAt)
	if err != nil {
		return interpretError(err)
	}
	if err := begin(st); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, selectStatusEntries, uid)
	if err != nil {
		return interpretError(err)
	}
	defer rows.Close()
	var (
		list int32
		o    store.StatusObject
	)
	for rows.Next() {
		if err := rows.Scan(&list, &o.ID, &o.Version, &o.Message); err != nil {
			return interpretError(err)
		}
		if err := each(store.StatusList(list), o); err != nil {
			return err
		}
	}
	return interpretError(rows.Err())
}

// DeleteExpiredStatuses implements store.Statuses.
func (s *Store) DeleteExpiredStatuses(ctx context.Context, now time.Time, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM statuses WHERE id IN (
		SELECT id FROM statuses WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`, now, limit)
	if err != nil {
		return 0, interpretError(err)
	}
	return int(tag.RowsAffected()), nil
}
