package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

const (
	upstreamColumns = `id, name, url, taxii_version, username, password, token, ca_pem, insecure, types,
	interval_us, added_after, paused, run_now, watermark, lease_owner, lease_until, next_run,
	last_run, last_success, last_error, last_error_at,
	last_pulled, last_stored, last_unchanged, last_rejected, last_converted,
	total_pulled, total_stored, total_unchanged, total_rejected, total_converted,
	samples, notes, created_at, last_conflicting, total_conflicting`
	insertUpstream = `INSERT INTO sources (name, url, taxii_version, username, password, token, ca_pem, insecure,
	types, interval_us, added_after, paused, next_run, created_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ` + upstreamColumns
	selectUpstreams = `SELECT ` + upstreamColumns + ` FROM sources`
	// One writer: the claim is one statement on it, so two claimers never
	// take the same source.
	claimUpstream = `UPDATE sources SET lease_owner = ?1, lease_until = ?3, run_now = 0
	WHERE id = (SELECT id FROM sources
		WHERE NOT paused AND lease_until <= ?2 AND (run_now OR next_run <= ?2)
		ORDER BY run_now DESC, next_run, id LIMIT 1)
	RETURNING ` + upstreamColumns
	commitWatermark = `UPDATE sources SET watermark = ?4, lease_until = max(lease_until, ?5)
	WHERE id = ?1 AND lease_owner = ?2 AND lease_until > ?3`
	releaseUpstream = `UPDATE sources SET lease_owner = '', lease_until = 0, run_now = 1 WHERE id = ?1 AND lease_owner = ?2`
	finishRun       = `UPDATE sources SET lease_owner = '', lease_until = 0, next_run = ?3 + interval_us,
	last_run = ?4, last_success = CASE WHEN ?5 = '' THEN ?3 ELSE last_success END,
	last_error = ?5, last_error_at = CASE WHEN ?5 = '' THEN last_error_at ELSE ?3 END,
	last_pulled = ?6, last_stored = ?7, last_unchanged = ?8, last_rejected = ?9, last_converted = ?10,
	total_pulled = total_pulled + ?6, total_stored = total_stored + ?7, total_unchanged = total_unchanged + ?8,
	total_rejected = total_rejected + ?9, total_converted = total_converted + ?10,
	last_conflicting = ?13, total_conflicting = total_conflicting + ?13,
	samples = CASE WHEN ?9 > 0 OR ?13 > 0 THEN ?11 ELSE samples END, notes = ?12
	WHERE id = ?1 AND lease_owner = ?2`
)

type rowScanner interface{ Scan(dest ...any) error }

// scanUpstream reads one row of upstreamColumns.
func scanUpstream(row rowScanner) (store.Upstream, error) {
	var u store.Upstream
	var interval, leaseUntil, nextRun, lastRun, lastSuccess, lastErrorAt, created int64
	var types, samples, notes string
	err := row.Scan(&u.ID, &u.Name, &u.URL, &u.TAXIIVersion, &u.User, &u.Password, &u.Token, &u.CAPEM, &u.Insecure, &types,
		&interval, &u.AddedAfter, &u.Paused, &u.RunNow, &u.Watermark, &u.LeaseOwner, &leaseUntil, &nextRun,
		&lastRun, &lastSuccess, &u.LastError, &lastErrorAt,
		&u.LastCounts.Pulled, &u.LastCounts.Stored, &u.LastCounts.Unchanged, &u.LastCounts.Rejected, &u.LastCounts.Converted,
		&u.TotalCounts.Pulled, &u.TotalCounts.Stored, &u.TotalCounts.Unchanged, &u.TotalCounts.Rejected, &u.TotalCounts.Converted,
		&samples, &notes, &created, &u.LastCounts.Conflicting, &u.TotalCounts.Conflicting)
	if err != nil {
		return store.Upstream{}, err
	}
	for _, l := range []struct {
		src string
		dst *[]string
	}{{types, &u.Types}, {samples, &u.Samples}, {notes, &u.Notes}} {
		if err := json.Unmarshal([]byte(l.src), l.dst); err != nil {
			return store.Upstream{}, err
		}
	}
	u.Interval = time.Duration(interval) * time.Microsecond
	u.LeaseUntil, u.NextRun, u.LastRun = store.TimeOrZero(leaseUntil), store.TimeOrZero(nextRun), store.TimeOrZero(lastRun)
	u.LastSuccess, u.LastErrorAt, u.CreatedAt = store.TimeOrZero(lastSuccess), store.TimeOrZero(lastErrorAt), store.TimeOrZero(created)
	return u, nil
}

// CreateUpstream implements store.Upstreams.
func (s *Store) CreateUpstream(ctx context.Context, u store.Upstream) (store.Upstream, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	now := s.now()
	next := u.NextRun
	if next.IsZero() {
		next = now
	}
	got, err := scanUpstream(s.w.QueryRowContext(ctx, insertUpstream, u.Name, u.URL, u.TAXIIVersion, u.User, u.Password, u.Token,
		u.CAPEM, u.Insecure, store.JSONList(u.Types), u.Interval.Microseconds(), u.AddedAfter, u.Paused, store.MicrosOrZero(next), store.MicrosOrZero(now)))
	return got, interpretError(err)
}

// ListUpstreams implements store.Upstreams.
func (s *Store) ListUpstreams(ctx context.Context) ([]store.Upstream, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.lookups.QueryContext(ctx, selectUpstreams+` ORDER BY name`)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.Upstream
	for rows.Next() {
		u, err := scanUpstream(rows)
		if err != nil {
			return nil, interpretError(err)
		}
		out = append(out, u)
	}
	return out, interpretError(rows.Err())
}

// GetUpstream implements store.Upstreams.
func (s *Store) GetUpstream(ctx context.Context, name string) (store.Upstream, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	u, err := scanUpstream(s.lookups.QueryRowContext(ctx, selectUpstreams+` WHERE name = ?`, name))
	return u, interpretError(err)
}

// execUpstream runs a one-row update; ErrNotFound when no row matched.
func (s *Store) execUpstream(ctx context.Context, q string, args ...any) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return interpretError(oneRow(s.w.ExecContext(ctx, q, args...)))
}

// PauseUpstream implements store.Upstreams.
func (s *Store) PauseUpstream(ctx context.Context, name string, paused bool) error {
	return s.execUpstream(ctx, `UPDATE sources SET paused = ? WHERE name = ?`, paused, name)
}

// RunUpstreamNow implements store.Upstreams.
func (s *Store) RunUpstreamNow(ctx context.Context, name string) error {
	return s.execUpstream(ctx, `UPDATE sources SET run_now = 1 WHERE name = ?`, name)
}

// DeleteUpstream implements store.Upstreams.
func (s *Store) DeleteUpstream(ctx context.Context, name string) error {
	return s.execUpstream(ctx, `DELETE FROM sources WHERE name = ?`, name)
}

// ClaimUpstream implements store.Upstreams.
func (s *Store) ClaimUpstream(ctx context.Context, owner string, now time.Time, lease time.Duration) (store.Upstream, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	u, err := scanUpstream(s.w.QueryRowContext(ctx, claimUpstream, owner, now.UnixMicro(), now.Add(lease).UnixMicro()))
	return u, interpretError(err)
}

// CommitUpstreamPage implements store.Upstreams: the watermark update runs
// first in AddObjects' write transaction.
func (s *Store) CommitUpstreamPage(ctx context.Context, id int64, l store.Lease, objs []store.Object, watermark string) ([]store.AddOutcome, error) {
	return s.addObjects(ctx, objs, func(tx *sql.Tx) error {
		err := oneRow(tx.ExecContext(ctx, commitWatermark, id, l.Owner, l.Now.UnixMicro(), watermark, store.MicrosOrZero(l.Until)))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrLeaseLost
		}
		return err
	})
}

// FinishUpstreamRun implements store.Upstreams.
func (s *Store) FinishUpstreamRun(ctx context.Context, id int64, owner string, r store.UpstreamRun) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	c := r.Counts
	err := oneRow(s.w.ExecContext(ctx, finishRun, id, owner, r.Finished.UnixMicro(), r.Started.UnixMicro(), r.Err,
		c.Pulled, c.Stored, c.Unchanged, c.Rejected, c.Converted, store.JSONList(r.Samples), store.JSONList(r.Notes), c.Conflicting))
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrLeaseLost
	}
	return interpretError(err)
}

// ReleaseUpstream implements store.Upstreams.
func (s *Store) ReleaseUpstream(ctx context.Context, id int64, owner string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	err := oneRow(s.w.ExecContext(ctx, releaseUpstream, id, owner))
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrLeaseLost
	}
	return interpretError(err)
}

var _ store.Upstreams = (*Store)(nil)
