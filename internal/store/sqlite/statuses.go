package sqlite

import (
	"context"
	"fmt"
	"strings"
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
// SQLite reads a whole value to walk it, even with json_each, so the lists are
// read as text and decoded here one entry at a time: the text of one status
// (about 90 bytes an entry) is what a reader holds, never its entries.
func (s *Store) ScanStatus(ctx context.Context, id string, now time.Time, begin func(store.Status) error, each func(store.StatusList, store.StatusObject) error) error {
	uid, ok := store.CanonicalUUID(id)
	if !ok {
		return store.ErrNotFound
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var st store.Status
	var requested, expires int64
	var lists [3]string // strings: the driver's own, not copied again
	err := s.r.QueryRowContext(ctx, selectStatus, uid, now.UnixMicro()).Scan(
		&st.ID, &st.FeedID, &st.KeyID, &st.Status, &requested, &st.TotalCount, &st.SuccessCount,
		&st.FailureCount, &st.PendingCount, &lists[store.StatusSuccesses], &lists[store.StatusFailures],
		&lists[store.StatusPendings], &expires)
	if err != nil {
		return interpretError(err)
	}
	st.RequestTimestamp = fromMicros(requested)
	st.ExpiresAt = fromMicros(expires)
	if err := begin(st); err != nil {
		return err
	}
	for l, text := range lists {
		if err := store.ScanStatusObjects(strings.NewReader(text), store.StatusList(l), each); err != nil {
			return err
		}
	}
	return nil
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
