package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

const (
	// addUsage adds to the hourly row: every SET expression reads the stored
	// row's values as they were, so the later poll wins whatever the order.
	addUsage = `
INSERT INTO usage_hourly (hour, key_id, feed_id, requests, polls, objects, bytes, last_poll, last_added_after)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (hour, key_id, feed_id) DO UPDATE SET
	requests = requests + excluded.requests,
	polls = polls + excluded.polls,
	objects = objects + excluded.objects,
	bytes = bytes + excluded.bytes,
	last_poll = max(last_poll, excluded.last_poll),
	last_added_after = CASE WHEN excluded.last_poll > 0 AND excluded.last_poll >= last_poll
		THEN excluded.last_added_after ELSE last_added_after END`

	// With exactly one max() aggregate, SQLite takes the bare column
	// last_added_after from the row holding that max: the latest poll's.
	usageSums      = `sum(requests), sum(polls), sum(objects), sum(bytes), max(last_poll), last_added_after`
	usageByKey     = `SELECT key_id, '', ` + usageSums + ` FROM usage_hourly WHERE hour >= ? GROUP BY key_id ORDER BY key_id`
	usageByFeed    = `SELECT '', feed_id, ` + usageSums + ` FROM usage_hourly WHERE hour >= ? AND feed_id <> '' GROUP BY feed_id ORDER BY feed_id`
	usageByKeyFeed = `SELECT key_id, feed_id, ` + usageSums + ` FROM usage_hourly WHERE hour >= ? GROUP BY key_id, feed_id ORDER BY key_id, feed_id`
	usageDaily     = `
SELECT hour / 86400000000 * 86400000000 AS day, sum(requests), sum(polls), sum(objects), sum(bytes)
FROM usage_hourly WHERE key_id = ? AND hour >= ? GROUP BY day ORDER BY day`
	deleteUsage = `DELETE FROM usage_hourly WHERE hour < ?`
)

// AddUsage implements store.Usage, in one write transaction.
func (s *Store) AddUsage(ctx context.Context, rows []store.UsageRow) error {
	rows = store.MergeUsageRows(rows)
	if len(rows) == 0 {
		return nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return interpretError(s.writeTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, addUsage)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range rows {
			if _, err := stmt.ExecContext(ctx, r.Hour.UnixMicro(), r.KeyID, r.FeedID, r.Requests, r.Polls, r.Objects, r.Bytes,
				store.MicrosOrZero(r.LastPoll), r.LastAddedAfter); err != nil {
				return err
			}
		}
		return nil
	}))
}

// UsageTotals implements store.Usage.
func (s *Store) UsageTotals(ctx context.Context, since time.Time, by store.UsageGroup) ([]store.UsageTotal, error) {
	q, ok := map[store.UsageGroup]string{store.UsageByKey: usageByKey, store.UsageByFeed: usageByFeed, store.UsageByKeyFeed: usageByKeyFeed}[by]
	if !ok {
		return nil, fmt.Errorf("sqlite: unknown usage grouping %d", by)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, q, since.UnixMicro())
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.UsageTotal
	for rows.Next() {
		var t store.UsageTotal
		var last int64
		if err := rows.Scan(&t.KeyID, &t.FeedID, &t.Requests, &t.Polls, &t.Objects, &t.Bytes, &last, &t.LastAddedAfter); err != nil {
			return nil, interpretError(err)
		}
		t.LastPoll = store.TimeOrZero(last)
		out = append(out, t)
	}
	return out, interpretError(rows.Err())
}

// UsageDaily implements store.Usage.
func (s *Store) UsageDaily(ctx context.Context, keyID string, since time.Time) ([]store.UsageDay, error) {
	if id, ok := store.CanonicalUUID(keyID); ok {
		keyID = id
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, usageDaily, keyID, since.UnixMicro())
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.UsageDay
	for rows.Next() {
		var d store.UsageDay
		var day int64
		if err := rows.Scan(&day, &d.Requests, &d.Polls, &d.Objects, &d.Bytes); err != nil {
			return nil, interpretError(err)
		}
		d.Day = time.UnixMicro(day).UTC()
		out = append(out, d)
	}
	return out, interpretError(rows.Err())
}

// DeleteUsageBefore implements store.Usage.
func (s *Store) DeleteUsageBefore(ctx context.Context, before time.Time) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, deleteUsage, before.UnixMicro())
	if err != nil {
		return 0, interpretError(err)
	}
	n, err := res.RowsAffected()
	return n, interpretError(err)
}
