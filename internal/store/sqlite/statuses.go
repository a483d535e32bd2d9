package sqlite

import (
	"context"
	"encoding/json"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

const (
	insertStatus = `
INSERT INTO statuses (id, feed_id, key_id, status, request_timestamp, total_count, success_count,
    failure_count, pending_count, successes, failures, pendings, expires_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)`
	updateStatus = `
UPDATE statuses SET feed_id = ?2, key_id = ?3, status = ?4, request_timestamp = ?5, total_count = ?6,
    success_count = ?7, failure_count = ?8, pending_count = ?9, successes = ?10, failures = ?11,
    pendings = ?12, expires_at = ?13
WHERE id = ?1`
	// A status is live while now < expires_at.
	selectStatus = `
SELECT id, feed_id, key_id, status, request_timestamp, total_count, success_count, failure_count,
    pending_count, successes, failures, pendings, expires_at
FROM statuses WHERE id = ? AND expires_at > ?`
	deleteExpiredStatuses = `DELETE FROM statuses WHERE expires_at <= ?`
)

// statusObject is how a StatusObject is kept in the JSON columns.
type statusObject struct {
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
	Message string `json:"message,omitempty"`
}

// CreateStatus stores st. ErrConflict when the id exists.
func (s *Store) CreateStatus(ctx context.Context, st store.Status) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	args, err := statusArgs(st)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, insertStatus, args...)
	return interpretError(err)
}

// UpdateStatus replaces a stored status. ErrNotFound when none.
func (s *Store) UpdateStatus(ctx context.Context, st store.Status) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	args, err := statusArgs(st)
	if err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, updateStatus, args...)
	return interpretError(oneRow(res, err))
}

// GetStatus returns a status that has not expired at now. ErrNotFound otherwise.
func (s *Store) GetStatus(ctx context.Context, id string, now time.Time) (store.Status, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var st store.Status
	var requested, expires int64
	var successes, failures, pendings string
	err := s.r.QueryRowContext(ctx, selectStatus, canonicalID(id), now.UnixMicro()).Scan(
		&st.ID, &st.FeedID, &st.KeyID, &st.Status, &requested, &st.TotalCount, &st.SuccessCount,
		&st.FailureCount, &st.PendingCount, &successes, &failures, &pendings, &expires)
	if err != nil {
		return store.Status{}, interpretError(err)
	}
	st.RequestTimestamp = fromMicros(requested)
	st.ExpiresAt = fromMicros(expires)
	for _, l := range []struct {
		text string
		dst  *[]store.StatusObject
	}{{successes, &st.Successes}, {failures, &st.Failures}, {pendings, &st.Pendings}} {
		if *l.dst, err = decodeStatusObjects(l.text); err != nil {
			return store.Status{}, err
		}
	}
	return st, nil
}

// DeleteExpiredStatuses removes the statuses expired at now and returns how many.
func (s *Store) DeleteExpiredStatuses(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, deleteExpiredStatuses, now.UnixMicro())
	if err != nil {
		return 0, interpretError(err)
	}
	n, err := res.RowsAffected()
	return int(n), interpretError(err)
}

func statusArgs(st store.Status) ([]any, error) {
	var lists [3]string
	for i, l := range [][]store.StatusObject{st.Successes, st.Failures, st.Pendings} {
		objs := make([]statusObject, len(l))
		for j, o := range l {
			objs[j] = statusObject(o)
		}
		b, err := json.Marshal(objs)
		if err != nil {
			return nil, err
		}
		lists[i] = string(b)
	}
	return []any{canonicalID(st.ID), canonicalID(st.FeedID), st.KeyID, st.Status, st.RequestTimestamp.UnixMicro(), st.TotalCount,
		st.SuccessCount, st.FailureCount, st.PendingCount, lists[0], lists[1], lists[2],
		st.ExpiresAt.UnixMicro()}, nil
}

func decodeStatusObjects(text string) ([]store.StatusObject, error) {
	var objs []statusObject
	if err := json.Unmarshal([]byte(text), &objs); err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, nil
	}
	out := make([]store.StatusObject, len(objs))
	for i, o := range objs {
		out[i] = store.StatusObject(o)
	}
	return out, nil
}
