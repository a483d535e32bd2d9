package sqlite

import (
	"context"
	"database/sql"
	"fmt"
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
    pending_count, expires_at
FROM statuses WHERE id = ? AND expires_at > ?`
	// The entries of a status, a row each, list by list (0 successes, 1
	// failures, 2 pendings: store.StatusList's values) in stored order.
	selectStatusEntries = `
SELECT l.n, coalesce(e.value ->> '$.id', ''), coalesce(e.value ->> '$.version', ''),
    coalesce(e.value ->> '$.message', '')
FROM statuses s
JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2) AS l
JOIN json_each(CASE l.n WHEN 0 THEN s.successes WHEN 1 THEN s.failures ELSE s.pendings END) AS e
WHERE s.id = ?
ORDER BY l.n, e.key`
	deleteExpiredStatuses = `DELETE FROM statuses WHERE rowid IN (
    SELECT rowid FROM statuses WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`
)

// CreateStatus stores st. ErrConflict when the id exists.
func (s *Store) CreateStatus(ctx context.Context, st store.Status) error {
	args, ok := statusArgs(st)
	if !ok {
		return fmt.Errorf("sqlite: status id %q is not a UUID", st.ID)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.w.ExecContext(ctx, insertStatus, args...)
	return interpretError(err)
}

// UpdateStatus replaces a stored status. ErrNotFound when none.
func (s *Store) UpdateStatus(ctx context.Context, st store.Status) error {
	args, ok := statusArgs(st)
	if !ok {
		return store.ErrNotFound
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, updateStatus, args...)
	return interpretError(oneRow(res, err))
}

// ScanStatus reads a status live at now entry by entry; see store.Statuses.
// SQLite itself reads each list whole to walk it, one status per reader.
func (s *Store) ScanStatus(ctx context.Context, id string, now time.Time, begin func(store.Status) error, each func(store.StatusList, store.StatusObject) error) error {
	uid, ok := store.CanonicalUUID(id)
	if !ok {
		return store.ErrNotFound
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return interpretError(err)
	}
	defer func() { _ = tx.Rollback() }()

	var st store.Status
	var requested, expires int64
	err = tx.QueryRowContext(ctx, selectStatus, uid, now.UnixMicro()).Scan(
		&st.ID, &st.FeedID, &st.KeyID, &st.Status, &requested, &st.TotalCount, &st.SuccessCount,
		&st.FailureCount, &st.PendingCount, &expires)
	if err != nil {
		return interpretError(err)
	}
	st.RequestTimestamp = fromMicros(requested)
	st.ExpiresAt = fromMicros(expires)
	if err := begin(st); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, selectStatusEntries, uid)
	if err != nil {
		return interpretError(err)
	}
	defer rows.Close()
	var (
		list int
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

// DeleteExpiredStatuses removes up to limit statuses expired at now and returns how many.
func (s *Store) DeleteExpiredStatuses(ctx context.Context, now time.Time, limit int) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, deleteExpiredStatuses, now.UnixMicro(), limit)
	if err != nil {
		return 0, interpretError(err)
	}
	n, err := res.RowsAffected()
	return int(n), interpretError(err)
}

// statusArgs are the columns of st in table order; ok is false when its id is not a UUID.
func statusArgs(st store.Status) (args []any, ok bool) {
	id, ok := store.CanonicalUUID(st.ID)
	return []any{id, canonicalID(st.FeedID), st.KeyID, st.Status, st.RequestTimestamp.UnixMicro(), st.TotalCount,
		st.SuccessCount, st.FailureCount, st.PendingCount, string(store.EncodeStatusObjects(st.Successes)),
		string(store.EncodeStatusObjects(st.Failures)), string(store.EncodeStatusObjects(st.Pendings)), st.ExpiresAt.UnixMicro()}, ok
}
