package postgres

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/observables"
	"github.com/inthreat/taxii-server/internal/store"
)

// observablesMigration is the migration whose Go step back-fills the observables of
// the indicators stored before it.
const observablesMigration = 3

// insertObservables stores the observables of new versions, taking is_latest from
// their object row (flags are fixed before this runs).
const insertObservables = `INSERT INTO observables (date_added, type, value, list, entry, revoked, valid_until, is_latest)
SELECT t.date_added, t.type, t.value, t.list, t.entry, t.revoked, t.valid_until, o.is_latest
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::bigint[])
	AS t(date_added, type, value, list, entry, revoked, valid_until)
JOIN objects o ON o.date_added = t.date_added
ON CONFLICT DO NOTHING`

// syncObservableFlags copies is_latest from the objects of the given ids to their observables.
const syncObservableFlags = `UPDATE observables x SET is_latest = o.is_latest
FROM objects o
WHERE o.id = ANY($1::text[]) AND x.date_added = o.date_added AND x.is_latest <> o.is_latest`

// The feed's conditions apply to the object row; only feeds that show indicators can list anything.
const (
	findObservable = `SELECT date_added, id, type, spec_version, created, modified, raw FROM objects
WHERE date_added IN (SELECT date_added FROM observables WHERE is_latest AND value = $1 AND ($2::text = '' OR type = $2::text))
	AND %s
ORDER BY date_added LIMIT %d`
	// listEntries reads observables_list_idx in order: byte order (COLLATE "C"), so
	// that DISTINCT streams and compares bytes, not the database's collation.
	listEntries = `SELECT DISTINCT entry COLLATE "C" AS e FROM observables
WHERE is_latest AND NOT revoked AND list <> '' AND list = $1 AND entry COLLATE "C" > $2 AND (valid_until = 0 OR valid_until > $3)%s
ORDER BY e LIMIT $4`
	// listState reads the clock row and two probes of observables_expiry_idx.
	listState = `SELECT greatest(last_us, changed_us),
	coalesce((SELECT min(valid_until) FROM observables WHERE is_latest AND NOT revoked AND list <> '' AND list = $1
		AND valid_until > 0 AND valid_until > $2), 0),
	coalesce((SELECT max(valid_until) FROM observables WHERE is_latest AND NOT revoked AND list <> '' AND list = $1
		AND valid_until > 0 AND valid_until <= $2), 0)
FROM store_clock WHERE one`
	backfillBatch = `SELECT date_added, raw FROM objects WHERE type = 'indicator' AND date_added > $1 ORDER BY date_added LIMIT 1000`
)

// addObservables inserts the observables of the inserted rows (dateAdded[j] for objs[uniq[j]]).
func addObservables(ctx context.Context, tx pgx.Tx, dateAdded []int64, obs [][]store.Observable) error {
	var das, vs []int64
	var types, values, lists, entries []string
	var revoked []bool
	for j, list := range obs {
		for _, o := range list {
			das, types, values = append(das, dateAdded[j]), append(types, o.Type), append(values, o.Value)
			lists, entries = append(lists, o.List), append(entries, o.Entry)
			revoked, vs = append(revoked, o.Revoked), append(vs, o.ValidUntil)
		}
	}
	if len(das) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, insertObservables, das, types, values, lists, entries, revoked, vs)
	return err
}

// backfillObservables fills the observables of every stored indicator, in batches, in the
// migration's transaction.
func backfillObservables(ctx context.Context, tx pgx.Tx) error {
	var after int64
	for {
		rows, err := tx.Query(ctx, backfillBatch, after)
		if err != nil {
			return err
		}
		var das []int64
		var obs [][]store.Observable
		var d int64
		var raw []byte
		_, err = pgx.ForEachRow(rows, []any{&d, &raw}, func() error {
			das, obs = append(das, d), append(obs, observables.Of(raw))
			return nil
		})
		if err != nil {
			return err
		}
		if len(das) == 0 {
			return nil
		}
		if err := addObservables(ctx, tx, das, obs); err != nil {
			return err
		}
		after = das[len(das)-1]
	}
}

// FindByObservable implements store.ObservableIndex.
func (s *Store) FindByObservable(ctx context.Context, feed store.FeedFilter, typ, value string, limit int, each func(store.Row) error) error {
	if limit < 1 {
		return fmt.Errorf("postgres: limit %d < 1", limit)
	}
	args := []any{value, typ}
	where, err := conditions(feed, store.Query{Versions: store.VersionMatch{All: true}}, &args, false)
	if err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, fmt.Sprintf(findObservable, where, limit), args...)
	if err != nil {
		return interpretError(err)
	}
	var out []store.Row
	for rows.Next() {
		vals := rows.RawValues()
		if len(vals[0]) != 8 {
			rows.Close()
			return fmt.Errorf("postgres: unexpected date_added encoding")
		}
		out = append(out, store.Row{
			DateAdded: int64(binary.BigEndian.Uint64(vals[0])), ID: string(vals[1]), Type: string(vals[2]),
			SpecVersion: string(vals[3]), Version: store.ObjectVersion(string(vals[4]), string(vals[5])),
			Raw: append([]byte(nil), vals[6]...),
		})
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

// listFeed is the condition the feed adds to a list, as SQL appended to the
// query; skip when the feed shows no indicators at all. The feed's id is in the
// text, as conditions writes it, so that only its partition is read and locked.
func listFeed(feed store.FeedFilter) (cond string, skip bool, err error) {
	switch id, ok := store.CanonicalUUID(feed.Index); {
	case feed.Indexed() && !ok:
		return "", false, store.ErrNeedsIndex
	case feed.Indexed(): // its membership index holds what its conditions select
		return " AND date_added IN (SELECT date_added FROM feed_members WHERE feed_id = '" + id + "'::uuid)", false, nil
	}
	return "", !feed.Allows("indicator"), nil
}

// ListEntries implements store.ObservableIndex.
func (s *Store) ListEntries(ctx context.Context, feed store.FeedFilter, kind, after string, now int64, limit int) ([]string, error) {
	cond, skip, err := listFeed(feed)
	if err != nil || skip {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, fmt.Sprintf(listEntries, cond), kind, after, now, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, interpretError(err)
}

// ListState implements store.ObservableIndex.
func (s *Store) ListState(ctx context.Context, feed store.FeedFilter, kind string, now int64) (store.ListState, error) {
	var st store.ListState
	if _, skip, err := listFeed(feed); err != nil || skip {
		return st, err
	}
	err := s.pool.QueryRow(ctx, listState, kind, now).Scan(&st.Changed, &st.NextExpiry, &st.LastExpiry)
	return st, interpretError(err)
}
