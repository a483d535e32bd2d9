package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

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
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING ` + upstreamColumns
	selectUpstreams = `SELECT ` + upstreamColumns + ` FROM sources`
	// The claim locks the row it picks and skips rows other claimers hold, so
	// replicas claiming together never take one source twice; the lease then
	// keeps it theirs after the transaction ends.
	claimUpstream = `UPDATE sources SET lease_owner = $1, lease_until = $3, run_now = false
	WHERE id = (SELECT id FROM sources
		WHERE NOT paused AND lease_until <= $2 AND (run_now OR next_run <= $2)
		ORDER BY run_now DESC, next_run, id LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING ` + upstreamColumns
	commitWatermark = `UPDATE sources SET watermark = $4, lease_until = GREATEST(lease_until, $5)
	WHERE id = $1 AND lease_owner = $2 AND lease_until > $3`
	releaseUpstream = `UPDATE sources SET lease_owner = '', lease_until = 0, run_now = true WHERE id = $1 AND lease_owner = $2`
	finishRun       = `UPDATE sources SET lease_owner = '', lease_until = 0, next_run = $3 + interval_us,
	last_run = $4, last_success = CASE WHEN $5 = '' THEN $3 ELSE last_success END,
	last_error = $5, last_error_at = CASE WHEN $5 = '' THEN last_error_at ELSE $3 END,
	last_pulled = $6, last_stored = $7, last_unchanged = $8, last_rejected = $9, last_converted = $10,
	total_pulled = total_pulled + $6, total_stored = total_stored + $7, total_unchanged = total_unchanged + $8,
	total_rejected = total_rejected + $9, total_converted = total_converted + $10,
	last_conflicting = $13, total_conflicting = total_conflicting + $13,
	samples = CASE WHEN $9 > 0 OR $13 > 0 THEN $11 ELSE samples END, notes = $12
	WHERE id = $1 AND lease_owner = $2`
)

// scanUpstream reads one row of upstreamColumns.
func scanUpstream(row pgx.Row) (store.Upstream, error) {
	var u store.Upstream
	var interval, leaseUntil, nextRun, lastRun, lastSuccess, lastErrorAt, created int64
	err := row.Scan(&u.ID, &u.Name, &u.URL, &u.TAXIIVersion, &u.User, &u.Password, &u.Token, &u.CAPEM, &u.Insecure, &u.Types,
		&interval, &u.AddedAfter, &u.Paused, &u.RunNow, &u.Watermark, &u.LeaseOwner, &leaseUntil, &nextRun,
		&lastRun, &lastSuccess, &u.LastError, &lastErrorAt,
		&u.LastCounts.Pulled, &u.LastCounts.Stored, &u.LastCounts.Unchanged, &u.LastCounts.Rejected, &u.LastCounts.Converted,
		&u.TotalCounts.Pulled, &u.TotalCounts.Stored, &u.TotalCounts.Unchanged, &u.TotalCounts.Rejected, &u.TotalCounts.Converted,
		&u.Samples, &u.Notes, &created, &u.LastCounts.Conflicting, &u.TotalCounts.Conflicting)
	if err != nil {
		return store.Upstream{}, err
	}
	u.Interval = time.Duration(interval) * time.Microsecond
	u.LeaseUntil, u.NextRun, u.LastRun = store.TimeOrZero(leaseUntil), store.TimeOrZero(nextRun), store.TimeOrZero(lastRun)
	u.LastSuccess, u.LastErrorAt, u.CreatedAt = store.TimeOrZero(lastSuccess), store.TimeOrZero(lastErrorAt), store.TimeOrZero(created)
	return u, nil
}

// CreateUpstream implements store.Upstreams.
func (s *Store) CreateUpstream(ctx context.Context, u store.Upstream) (store.Upstream, error) {
	now := time.Now()
	next := u.NextRun
	if next.IsZero() {
		next = now
	}
	got, err := scanUpstream(s.pool.QueryRow(ctx, insertUpstream, u.Name, u.URL, u.TAXIIVersion, u.User, u.Password, u.Token,
		u.CAPEM, u.Insecure, nonNil(u.Types), u.Interval.Microseconds(), u.AddedAfter, u.Paused, store.MicrosOrZero(next), store.MicrosOrZero(now)))
	return got, interpretError(err)
}

// ListUpstreams implements store.Upstreams.
func (s *Store) ListUpstreams(ctx context.Context) ([]store.Upstream, error) {
	rows, err := s.pool.Query(ctx, selectUpstreams+` ORDER BY name`)
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
	u, err := scanUpstream(s.pool.QueryRow(ctx, selectUpstreams+` WHERE name = $1`, name))
	return u, interpretError(err)
}

// exec runs a one-row update by name; ErrNotFound when no row matched.
func (s *Store) execUpstream(ctx context.Context, q string, args ...any) error {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// PauseUpstream implements store.Upstreams.
func (s *Store) PauseUpstream(ctx context.Context, name string, paused bool) error {
	return s.execUpstream(ctx, `UPDATE sources SET paused = $2 WHERE name = $1`, name, paused)
}

// RunUpstreamNow implements store.Upstreams.
func (s *Store) RunUpstreamNow(ctx context.Context, name string) error {
	return s.execUpstream(ctx, `UPDATE sources SET run_now = true WHERE name = $1`, name)
}

// DeleteUpstream implements store.Upstreams.
func (s *Store) DeleteUpstream(ctx context.Context, name string) error {
	return s.execUpstream(ctx, `DELETE FROM sources WHERE name = $1`, name)
}

// ClaimUpstream implements store.Upstreams.
func (s *Store) ClaimUpstream(ctx context.Context, owner string, now time.Time, lease time.Duration) (store.Upstream, error) {
	u, err := scanUpstream(s.pool.QueryRow(ctx, claimUpstream, owner, now.UnixMicro(), now.Add(lease).UnixMicro()))
	return u, interpretError(err)
}

// CommitUpstreamPage implements store.Upstreams: the watermark update runs
// first in AddObjects' transaction and keeps the source's row locked until it
// commits, so the lease cannot change hands in between.
func (s *Store) CommitUpstreamPage(ctx context.Context, id int64, l store.Lease, objs []store.Object, watermark string) ([]store.AddOutcome, error) {
	out, err := s.addObjects(ctx, objs, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, commitWatermark, id, l.Owner, l.Now.UnixMicro(), watermark, store.MicrosOrZero(l.Until))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrLeaseLost
		}
		return nil
	})
	return out, err
}

// FinishUpstreamRun implements store.Upstreams.
func (s *Store) FinishUpstreamRun(ctx context.Context, id int64, owner string, r store.UpstreamRun) error {
	c := r.Counts
	tag, err := s.pool.Exec(ctx, finishRun, id, owner, r.Finished.UnixMicro(), r.Started.UnixMicro(), r.Err,
		c.Pulled, c.Stored, c.Unchanged, c.Rejected, c.Converted, nonNil(r.Samples), nonNil(r.Notes), c.Conflicting)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrLeaseLost
	}
	return nil
}

// ReleaseUpstream implements store.Upstreams.
func (s *Store) ReleaseUpstream(ctx context.Context, id int64, owner string) error {
	tag, err := s.pool.Exec(ctx, releaseUpstream, id, owner)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrLeaseLost
	}
	return nil
}

var _ store.Upstreams = (*Store)(nil)
