package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/inthreat/taxii-server/internal/observables"
	"github.com/inthreat/taxii-server/internal/store"
)

// observablesMigration is the migration whose Go step back-fills the observables of
// the indicators stored before it.
const observablesMigration = 3

const (
	insertObservable = `INSERT INTO observables (date_added, type, value, list, entry, revoked, valid_until, is_latest)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`

	// syncObservableFlags copies is_latest from the versions of id ?1 to their observables.
	syncObservableFlags = `UPDATE observables
SET is_latest = (SELECT o.is_latest FROM objects o WHERE o.date_added = observables.date_added)
WHERE date_added IN (SELECT date_added FROM objects WHERE id = ?1)`

	// The feed's conditions apply to the object row; only feeds that show indicators can list anything.
	findObservable = `SELECT date_added, id, type, spec_version, coalesce(modified, created, ''), raw FROM objects
WHERE date_added IN (SELECT date_added FROM observables WHERE is_latest = 1 AND value = ? AND (?2 = '' OR type = ?2))
	AND %s
ORDER BY date_added LIMIT %d`
	listEntries = `SELECT DISTINCT entry FROM observables
WHERE is_latest = 1 AND revoked = 0 AND list <> '' AND list = ? AND entry > ? AND (valid_until = 0 OR valid_until > ?)%s
ORDER BY entry LIMIT ?`
	// listState reads the clock row and two probes of observables_expiry.
	listState = `SELECT max(last, changed),
	coalesce((SELECT min(valid_until) FROM observables WHERE is_latest = 1 AND revoked = 0 AND list <> '' AND list = ?1
		AND valid_until > 0 AND valid_until > ?2), 0),
	coalesce((SELECT max(valid_until) FROM observables WHERE is_latest = 1 AND revoked = 0 AND list <> '' AND list = ?1
		AND valid_until > 0 AND valid_until <= ?2), 0)
FROM clock WHERE id = 1`
	// markChanged dates a change that adds no version (store.ListState.Changed); ?1 is now (µs).
	markChanged   = `UPDATE clock SET changed = max(changed + 1, last + 1, ?1) WHERE id = 1`
	backfillBatch = `SELECT date_added, raw, is_latest FROM objects WHERE type = 'indicator' AND date_added > ? ORDER BY date_added LIMIT 1000`
)

// addObservables inserts the observables of one new version.
func addObservables(ctx context.Context, stmt *sql.Stmt, dateAdded int64, latest bool, obs []store.Observable) error {
	for _, o := range obs {
		if _, err := stmt.ExecContext(ctx, dateAdded, o.Type, o.Value, o.List, o.Entry, o.Revoked, o.ValidUntil, latest); err != nil {
			return err
		}
	}
	return nil
}

// backfillObservables fills the observables of every stored indicator, in batches, in
// the migration's transaction.
func backfillObservables(ctx context.Context, tx *sql.Tx) error {
	stmt, err := tx.PrepareContext(ctx, insertObservable)
	if err != nil {
		return err
	}
	defer stmt.Close()
	type version struct {
		dateAdded int64
		raw       []byte
		latest    bool
	}
	var after int64
	for {
		rows, err := tx.QueryContext(ctx, backfillBatch, after)
		if err != nil {
			return err
		}
		var batch []version
		for rows.Next() {
			var v version
			if err := rows.Scan(&v.dateAdded, &v.raw, &v.latest); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for _, v := range batch {
			if err := addObservables(ctx, stmt, v.dateAdded, v.latest, observables.Of(v.raw)); err != nil {
				return err
			}
		}
		after = batch[len(batch)-1].dateAdded
	}
}

// FindByObservable implements store.ObservableIndex.
func (s *Store) FindByObservable(ctx context.Context, feed store.FeedFilter, typ, value string, limit int, each func(store.Row) error) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if limit < 1 {
		return fmt.Errorf("sqlite: limit %d < 1", limit)
	}
	where, args, err := queryConditions(store.Query{Feed: feed, Versions: store.VersionMatch{All: true}}, s.now().UnixMicro(), false)
	if err != nil {
		return err
	}
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(findObservable, where, limit), append([]any{value, typ}, args...)...)
	if err != nil {
		return interpretError(err)
	}
	var out []store.Row
	for rows.Next() {
		var r store.Row
		if err := rows.Scan(&r.DateAdded, &r.ID, &r.Type, &r.SpecVersion, &r.Version, &r.Raw); err != nil {
			rows.Close()
			return interpretError(err)
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return interpretError(err)
	}
	for _, r := range out {
		if err := each(r); err != nil {
			return err
		}
	}
	return nil
}

// listFeed is the condition the feed adds to a list (SQL appended to the query, and
// its argument); skip when the feed shows no indicators at all.
func listFeed(feed store.FeedFilter) (cond string, args []any, skip bool, err error) {
	switch {
	case feed.Indexed() && feed.Index == "":
		return "", nil, false, store.ErrNeedsIndex
	case feed.Indexed(): // its membership index holds what its conditions select
		return " AND " + condMemberIn, []any{canonicalID(feed.Index)}, false, nil
	}
	return "", nil, !feed.Allows("indicator"), nil
}

// ListEntries implements store.ObservableIndex.
func (s *Store) ListEntries(ctx context.Context, feed store.FeedFilter, kind, after string, now int64, limit int) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	cond, extra, skip, err := listFeed(feed)
	if err != nil || skip {
		return nil, err
	}
	// The feed's argument comes before LIMIT's in the text.
	rows, err := s.r.QueryContext(ctx, fmt.Sprintf(listEntries, cond), append(append([]any{kind, after, now}, extra...), limit)...)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, interpretError(err)
		}
		out = append(out, e)
	}
	return out, interpretError(rows.Err())
}

// ListState implements store.ObservableIndex.
func (s *Store) ListState(ctx context.Context, feed store.FeedFilter, kind string, now int64) (store.ListState, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var st store.ListState
	if _, _, skip, err := listFeed(feed); err != nil || skip {
		return st, err
	}
	err := s.r.QueryRowContext(ctx, listState, kind, now).Scan(&st.Changed, &st.NextExpiry, &st.LastExpiry)
	return st, interpretError(err)
}
