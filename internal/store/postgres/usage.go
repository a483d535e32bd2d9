package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/store"
)

const (
	// addUsage adds to the hourly rows: every SET expression reads the stored
	// row's values as they were, so the later poll wins whatever the order.
	addUsage = `INSERT INTO usage_hourly AS u (hour, key_id, feed_id, requests, polls, objects, bytes, last_poll, last_added_after)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
ON CONFLICT (hour, key_id, feed_id) DO UPDATE SET
	requests = u.requests + excluded.requests,
	polls = u.polls + excluded.polls,
	objects = u.objects + excluded.objects,
	bytes = u.bytes + excluded.bytes,
	last_poll = GREATEST(u.last_poll, excluded.last_poll),
	last_added_after = CASE WHEN excluded.last_poll > 0 AND excluded.last_poll >= u.last_poll
		THEN excluded.last_added_after ELSE u.last_added_after END`

	usageSums = `sum(requests)::bigint, sum(polls)::bigint, sum(objects)::bigint, sum(bytes)::bigint, max(last_poll),
	(array_agg(last_added_after ORDER BY last_poll DESC))[1]`
	usageByKey     = `SELECT key_id, '', ` + usageSums + ` FROM usage_hourly WHERE hour >= $1 GROUP BY key_id ORDER BY key_id`
	usageByFeed    = `SELECT '', feed_id, ` + usageSums + ` FROM usage_hourly WHERE hour >= $1 AND feed_id <> '' GROUP BY feed_id ORDER BY feed_id`
	usageByKeyFeed = `SELECT key_id, feed_id, ` + usageSums + ` FROM usage_hourly WHERE hour >= $1 GROUP BY key_id, feed_id ORDER BY key_id, feed_id`
	usageDaily     = `SELECT hour / 86400000000 * 86400000000 AS day,
	sum(requests)::bigint, sum(polls)::bigint, sum(objects)::bigint, sum(bytes)::bigint
FROM usage_hourly WHERE key_id = $1 AND hour >= $2 GROUP BY day ORDER BY day`
	deleteUsage = `DELETE FROM usage_hourly WHERE hour < $1`
)

// AddUsage implements store.Usage: one statement for the whole batch.
func (s *Store) AddUsage(ctx context.Context, rows []store.UsageRow) error {
	rows = store.MergeUsageRows(rows)
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	hours, requests, polls, objects, bytes, lastPoll, lastAfter := make([]int64, n), make([]int64, n), make([]int64, n),
		make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	keys, feeds := make([]string, n), make([]string, n)
	for i, r := range rows {
		hours[i], keys[i], feeds[i] = r.Hour.UnixMicro(), r.KeyID, r.FeedID
		requests[i], polls[i], objects[i], bytes[i] = r.Requests, r.Polls, r.Objects, r.Bytes
		lastPoll[i], lastAfter[i] = store.MicrosOrZero(r.LastPoll), r.LastAddedAfter
	}
	_, err := s.pool.Exec(ctx, addUsage, hours, keys, feeds, requests, polls, objects, bytes, lastPoll, lastAfter)
	return interpretError(err)
}

// UsageTotals implements store.Usage.
func (s *Store) UsageTotals(ctx context.Context, since time.Time, by store.UsageGroup) ([]store.UsageTotal, error) {
	q, ok := map[store.UsageGroup]string{store.UsageByKey: usageByKey, store.UsageByFeed: usageByFeed, store.UsageByKeyFeed: usageByKeyFeed}[by]
	if !ok {
		return nil, fmt.Errorf("postgres: unknown usage grouping %d", by)
	}
	rows, err := s.pool.Query(ctx, q, since.UnixMicro())
	if err != nil {
		return nil, interpretError(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.UsageTotal, error) {
		var t store.UsageTotal
		var last int64
		err := row.Scan(&t.KeyID, &t.FeedID, &t.Requests, &t.Polls, &t.Objects, &t.Bytes, &last, &t.LastAddedAfter)
		t.LastPoll = store.TimeOrZero(last)
		return t, err
	})
	return out, interpretError(err)
}

// UsageDaily implements store.Usage.
func (s *Store) UsageDaily(ctx context.Context, keyID string, since time.Time) ([]store.UsageDay, error) {
	if id, ok := store.CanonicalUUID(keyID); ok {
		keyID = id
	}
	rows, err := s.pool.Query(ctx, usageDaily, keyID, since.UnixMicro())
	if err != nil {
		return nil, interpretError(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.UsageDay, error) {
		var d store.UsageDay
		var day int64
		err := row.Scan(&day, &d.Requests, &d.Polls, &d.Objects, &d.Bytes)
		d.Day = time.UnixMicro(day).UTC()
		return d, err
	})
	return out, interpretError(err)
}

// DeleteUsageBefore implements store.Usage.
func (s *Store) DeleteUsageBefore(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, deleteUsage, before.UnixMicro())
	if err != nil {
		return 0, interpretError(err)
	}
	return tag.RowsAffected(), nil
}
