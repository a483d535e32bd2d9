package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

// statusObject is the stored JSON form of store.StatusObject.
type statusObject struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
	Message string `json:"message,omitempty"`
}

func encodeStatusObjects(in []store.StatusObject) []byte {
	out := make([]statusObject, len(in))
	for i, o := range in {
		out[i] = statusObject(o)
	}
	b, _ := json.Marshal(out) // plain strings cannot fail to encode
	return b
}

func decodeStatusObjects(b []byte) ([]store.StatusObject, error) {
	var in []statusObject
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	var out []store.StatusObject
	for _, o := range in {
		out = append(out, store.StatusObject(o))
	}
	return out, nil
}

func statusArgs(st store.Status) []any {
	return []any{st.ID, st.FeedID, st.KeyID, st.Status, st.RequestTimestamp,
		st.TotalCount, st.SuccessCount, st.FailureCount, st.PendingCount,
		encodeStatusObjects(st.Successes), encodeStatusObjects(st.Failures), encodeStatusObjects(st.Pendings),
		st.ExpiresAt}
}

// CreateStatus implements store.Statuses.
func (s *Store) CreateStatus(ctx context.Context, st store.Status) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO statuses (id, feed_id, key_id, status, request_timestamp,
		total_count, success_count, failure_count, pending_count, successes, failures, pendings, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12::jsonb, $13)`, statusArgs(st)...)
	return interpretError(err)
}

// UpdateStatus implements store.Statuses.
func (s *Store) UpdateStatus(ctx context.Context, st store.Status) error {
	tag, err := s.pool.Exec(ctx, `UPDATE statuses SET feed_id = $2, key_id = $3, status = $4, request_timestamp = $5,
		total_count = $6, success_count = $7, failure_count = $8, pending_count = $9,
		successes = $10::jsonb, failures = $11::jsonb, pendings = $12::jsonb, expires_at = $13
		WHERE id::text = lower($1)`, statusArgs(st)...)
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
	var st store.Status
	var succ, fail, pend []byte
	err := s.pool.QueryRow(ctx, `SELECT id::text, feed_id::text, key_id, status, request_timestamp,
		total_count, success_count, failure_count, pending_count, successes::text, failures::text, pendings::text, expires_at
		FROM statuses WHERE id::text = lower($1) AND expires_at > $2`, id, now).Scan(
		&st.ID, &st.FeedID, &st.KeyID, &st.Status, &st.RequestTimestamp,
		&st.TotalCount, &st.SuccessCount, &st.FailureCount, &st.PendingCount, &succ, &fail, &pend, &st.ExpiresAt)
	if err != nil {
		return store.Status{}, interpretError(err)
	}
	for _, p := range []struct {
		dst *[]store.StatusObject
		src []byte
	}{{&st.Successes, succ}, {&st.Failures, fail}, {&st.Pendings, pend}} {
		if *p.dst, err = decodeStatusObjects(p.src); err != nil {
			return store.Status{}, err
		}
	}
	return st, nil
}

// DeleteExpiredStatuses implements store.Statuses.
func (s *Store) DeleteExpiredStatuses(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM statuses WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, interpretError(err)
	}
	return int(tag.RowsAffected()), nil
}
