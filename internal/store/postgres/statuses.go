package postgres

import (
	"context"
	"fmt"
	"time"

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

// selectStatus finds a live status by its primary key, the id compared as a uuid.
const selectStatus = `SELECT id::text, feed_id::text, key_id, status, request_timestamp,
		total_count, success_count, failure_count, pending_count, successes::text, failures::text, pendings::text, expires_at
		FROM statuses WHERE id = $1::uuid AND expires_at > $2`

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

// GetStatus implements store.Statuses.
func (s *Store) GetStatus(ctx context.Context, id string, now time.Time) (store.Status, error) {
	uid, ok := store.CanonicalUUID(id)
	if !ok {
		return store.Status{}, store.ErrNotFound
	}
	var st store.Status
	var succ, fail, pend []byte
	err := s.pool.QueryRow(ctx, selectStatus, uid, now).Scan(
		&st.ID, &st.FeedID, &st.KeyID, &st.Status, &st.RequestTimestamp,
		&st.TotalCount, &st.SuccessCount, &st.FailureCount, &st.PendingCount, &succ, &fail, &pend, &st.ExpiresAt)
	if err != nil {
		return store.Status{}, interpretError(err)
	}
	for _, p := range []struct {
		dst *[]store.StatusObject
		src []byte
	}{{&st.Successes, succ}, {&st.Failures, fail}, {&st.Pendings, pend}} {
		if *p.dst, err = store.DecodeStatusObjects(p.src); err != nil {
			return store.Status{}, err
		}
	}
	return st, nil
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
