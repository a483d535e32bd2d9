package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

const (
	selectClock = `SELECT last FROM clock WHERE id = 1`
	updateClock = `UPDATE clock SET last = ? WHERE id = 1`

	// versionSpans reads, for the ids of a call, the first and last version
	// keys already stored: one query per call, so flags are known before
	// insert. It reads only the index objects_id_version.
	versionSpans = `
SELECT id, min(version_key), max(version_key), '', '' FROM objects
WHERE id IN (SELECT value FROM json_each(?)) GROUP BY id`
	// versionSpansSources also reads the sources, for confined writers: the
	// rows themselves, so unconfined imports do not pay for it.
	versionSpansSources = `
SELECT id, min(version_key), max(version_key), min(source), max(source) FROM objects
WHERE id IN (SELECT value FROM json_each(?)) GROUP BY id`

	insertObject = `
INSERT INTO objects (date_added, id, type, spec_version, created, modified, version_key, is_latest, is_first, raw,
	tlp, creators, confidence, labels, revoked, valid_until, source, digest)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id, version_key) DO NOTHING`

	// A new last (first) version of an id takes the flag from the one before.
	demoteLatest = `UPDATE objects SET is_latest = 0 WHERE id = ? AND is_latest = 1 AND version_key < ?`
	demoteFirst  = `UPDATE objects SET is_first = 0 WHERE id = ? AND is_first = 1 AND version_key > ?`

	// selectStored reads the stored version an insert met, with its digest; the
	// bytes only of a version stored before digests were (migration 9).
	selectStored = `SELECT date_added, digest, CASE WHEN digest IS NULL THEN raw END FROM objects WHERE id = ? AND version_key = ?`
	// setDigest saves a digest computed for a version stored before migration 9, so it is computed once.
	setDigest = `UPDATE objects SET digest = ? WHERE date_added = ?`

	// otherSource tells whether a version of id ?1 came from a source other than ?2.
	otherSource = `SELECT EXISTS (SELECT 1 FROM objects WHERE id = ? AND source <> ?)`

	// listSources counts objects (ids) per source; active keys' sources count 0 more.
	listSources = `
SELECT source, sum(n) FROM (
    SELECT source, count(DISTINCT id) AS n FROM objects GROUP BY source
    UNION ALL
    SELECT source, 0 FROM api_keys WHERE revoked_at IS NULL
) GROUP BY source ORDER BY source`

	// refreshFlags recomputes the flags of every remaining version of ?1.
	refreshFlags = `
UPDATE objects
SET is_latest = version_key = (SELECT max(version_key) FROM objects WHERE id = ?1),
    is_first  = version_key = (SELECT min(version_key) FROM objects WHERE id = ?1)
WHERE id = ?1`

	// Conditions of a query, ANDed. Lists travel as one JSON array parameter, so
	// the SQL text does not depend on their length. One type is an equality, so
	// the planner takes the (type, date_added) index; several are filtered with
	// index use switched off (unary +): walking a date_added index and skipping
	// other types never sorts, while an IN over a type index would sort every
	// match of the query to return one page.
	condType         = `type = ?`
	condTypes        = `+type IN (SELECT value FROM json_each(?))`
	condIDs          = `id IN (SELECT value FROM json_each(?))`
	condSpecVersions = `spec_version IN (SELECT value FROM json_each(?))`
	condLatest       = `is_latest = 1`
	condFirst        = `is_first = 1`
	condTimes        = `version_key IN (SELECT value FROM json_each(?))`
	condUnversioned  = `(version_key = '' AND date_added IN (SELECT value FROM json_each(?)))`
	condID           = `id = ?`
	// A version after a time; objects without modified nor created have version_key ''.
	condModifiedAfter = `version_key > ?`

	// Phase 1 reads only date_added: with is_latest alone it is a scan of the
	// partial index objects_latest, never of the rows.
	scanKeys      = `SELECT date_added FROM objects WHERE %s AND date_added > ? ORDER BY date_added LIMIT ?`
	scanRows      = `SELECT date_added, id, type, spec_version, coalesce(modified, created, ''), raw FROM objects WHERE %s AND date_added BETWEEN ? AND ? ORDER BY date_added`
	scanRowsNoRaw = `SELECT date_added, id, type, spec_version, coalesce(modified, created, ''), NULL FROM objects WHERE %s AND date_added BETWEEN ? AND ? ORDER BY date_added`
	// With match[id], phase 2 reads the page's rows by rowid: the ids' rows may lie far apart.
	scanRowsByKey      = `SELECT date_added, id, type, spec_version, coalesce(modified, created, ''), raw FROM objects WHERE date_added IN (SELECT value FROM json_each(?)) ORDER BY date_added`
	scanRowsByKeyNoRaw = `SELECT date_added, id, type, spec_version, coalesce(modified, created, ''), NULL FROM objects WHERE date_added IN (SELECT value FROM json_each(?)) ORDER BY date_added`

	// An indexed feed reads its own entries, which carry every column a page
	// reads, in the order of their primary key (feed_id, date_added): a range
	// of adjacent rows, however selective the feed (TestQueryPlans pins it).
	scanMemberKeys      = `SELECT date_added FROM feed_members WHERE %s AND date_added > ? ORDER BY date_added LIMIT ?`
	scanMemberRows      = `SELECT date_added, id, type, spec_version, coalesce(modified, created, ''), raw FROM feed_members WHERE %s AND date_added BETWEEN ? AND ? ORDER BY date_added`
	scanMemberRowsNoRaw = `SELECT date_added, id, type, spec_version, coalesce(modified, created, ''), NULL FROM feed_members WHERE %s AND date_added BETWEEN ? AND ? ORDER BY date_added`
	condMember          = `feed_id = ?`
	condMemberIn        = `date_added IN (SELECT date_added FROM feed_members WHERE feed_id = ?)`
	condNotExpired      = `(valid_until IS NULL OR valid_until > ?)`
	deleteVersions      = `DELETE FROM objects WHERE %s`
	and                 = " AND "
)

// AddObjects stores the new versions in one write transaction. date_added comes
// from the clock row: max(last+1, now in µs), then +1 for each new version, so it is
// unique and, writers being serialised, increasing in commit order. Objects it
// refuses (an unorderable version, another source's object for a confined
// writer) get their reason and take no date_added.
func (s *Store) AddObjects(ctx context.Context, objs []store.Object) ([]store.AddOutcome, error) {
	if len(objs) == 0 {
		return nil, nil
	}
	return s.addObjects(ctx, objs, nil)
}

// addObjects is AddObjects; inTx, when set, runs first in its transaction, so
// that what it writes commits with the objects or not at all; its error rolls
// everything back.
func (s *Store) addObjects(ctx context.Context, objs []store.Object, inTx func(tx *sql.Tx) error) ([]store.AddOutcome, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out []store.AddOutcome
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if inTx != nil {
			if err := inTx(tx); err != nil {
				return err
			}
		}
		var err error
		out, err = s.addBatch(ctx, tx, objs)
		return err
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return out, nil
}

// AddObjectBatches implements store.Objects: each batch reads the clock and
// the stored versions as the transaction left them, so the batches take
// increasing date_added and see each other's versions as one call would.
func (s *Store) AddObjectBatches(ctx context.Context, next func() ([]store.Object, error)) ([]store.AddOutcome, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out []store.AddOutcome
	var nextErr error
	err := s.writeTx(ctx, func(tx *sql.Tx) (err error) {
		out, nextErr, err = store.DrainBatches(next, func(objs []store.Object) ([]store.AddOutcome, error) {
			return s.addBatch(ctx, tx, objs)
		})
		return err
	})
	switch {
	case nextErr != nil:
		return nil, nextErr // the caller's own error, as it was
	case err != nil:
		return nil, interpretError(err)
	}
	return out, nil
}

// addBatch stores objs in tx. Objects of earlier batches of tx count as
// stored before.
func (s *Store) addBatch(ctx context.Context, tx *sql.Tx, objs []store.Object) ([]store.AddOutcome, error) {
	out := make([]store.AddOutcome, len(objs))
	keys := make([]string, len(objs))
	ids := make([]string, len(objs))
	digests := make([][]byte, len(objs))
	spansQuery := versionSpans
	for i, o := range objs {
		k, err := store.VersionKey(store.ObjectVersion(o.Created, o.Modified))
		if err != nil {
			out[i].Refused = fmt.Errorf("version %w", err)
		} else if digests[i], err = store.ObjectDigest(o); err != nil {
			out[i].Refused = err
		}
		keys[i], ids[i] = k, o.ID
		if o.Confined {
			spansQuery = versionSpansSources
		}
	}
	idList, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	err = func() error {
		if len(objs) == 0 {
			return nil
		}
		var last int64
		if err := tx.QueryRowContext(ctx, selectClock).Scan(&last); err != nil {
			return err
		}
		next := max(last+1, s.now().UnixMicro())
		spans, err := readVersionSpans(ctx, tx, spansQuery, idList)
		if err != nil {
			return err
		}
		fields, err := extractFields(ctx, tx, objs)
		if err != nil {
			return err
		}
		firstAdded := next

		// Cancelling ctx still rolls the transaction back (database/sql watches
		// it); statements run without it to spare the driver a goroutine each.
		stmtCtx := context.WithoutCancel(ctx)
		var stmts [5]*sql.Stmt
		for i, q := range []string{insertObject, selectStored, demoteLatest, demoteFirst, insertObservable} {
			if stmts[i], err = tx.PrepareContext(ctx, q); err != nil {
				return err
			}
			defer stmts[i].Close()
		}
		ins, existing, demoteL, demoteF, insObs := stmts[0], stmts[1], stmts[2], stmts[3], stmts[4]
		demoted := map[string]bool{} // ids whose older versions lost a flag: true when is_latest

		added := false
		for i, o := range objs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if out[i].Refused != nil {
				continue
			}
			k := keys[i]
			sp, known := spans[o.ID]
			if o.Confined && known && (sp.minSource != o.Source || sp.maxSource != o.Source) {
				out[i].Refused = store.ErrOtherSource
				continue
			}
			isLatest, isFirst := !known || k > sp.last, !known || k < sp.first
			fl := fields[i]
			res, err := ins.ExecContext(stmtCtx, next, o.ID, o.Type, o.SpecVersion,
				nullIfEmpty(o.Created), nullIfEmpty(o.Modified), k, isLatest, isFirst, o.Raw,
				int(fl.tlp), fl.creators, fl.confidence, fl.labels, fl.revoked, fl.validUntil, o.Source, digests[i])
			if err != nil {
				return fmt.Errorf("object %d (%s): %w", i, o.ID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				// Stored before, or earlier in this call: the first content stays.
				var dig, raw []byte
				if err := existing.QueryRowContext(stmtCtx, o.ID, k).Scan(&out[i].DateAdded, &dig, &raw); err != nil {
					return err
				}
				if dig == nil {
					if dig, err = stix.Digest(raw); err != nil {
						return fmt.Errorf("stored version %s %s: %w", o.ID, k, err)
					}
					if _, err := tx.ExecContext(stmtCtx, setDigest, dig, out[i].DateAdded); err != nil {
						return err
					}
				}
				out[i].Conflict = !bytes.Equal(dig, digests[i])
				continue
			}
			switch {
			case !known:
				sp = span{first: k, last: k, minSource: o.Source, maxSource: o.Source}
			case isLatest:
				sp.last = k
				demoted[o.ID] = true
				_, err = demoteL.ExecContext(stmtCtx, o.ID, k)
			case isFirst:
				sp.first = k
				if _, ok := demoted[o.ID]; !ok {
					demoted[o.ID] = false // its entries' is_first changes
				}
				_, err = demoteF.ExecContext(stmtCtx, o.ID, k)
			}
			if err != nil {
				return err
			}
			if err := addObservables(stmtCtx, insObs, next, isLatest, o.Observables); err != nil {
				return fmt.Errorf("object %d (%s): %w", i, o.ID, err)
			}
			sp.minSource, sp.maxSource = min(sp.minSource, o.Source), max(sp.maxSource, o.Source)
			spans[o.ID] = sp
			out[i] = store.AddOutcome{Added: true, DateAdded: next}
			next++
			added = true
		}
		if !added {
			return nil
		}
		for id, latest := range demoted {
			if latest {
				if _, err := tx.ExecContext(ctx, syncObservableFlags, id); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, syncMemberFlags, id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, addMembers, firstAdded, next-1); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, updateClock, next-1)
		return err
	}()
	if err != nil {
		return nil, err
	}
	return out, nil
}

// span is the first and last version key stored for an id, and the least and
// greatest source of its versions: one source when they are equal ("" when
// not read, as no object of the call is confined).
type span struct{ first, last, minSource, maxSource string }

func readVersionSpans(ctx context.Context, tx *sql.Tx, query string, idList []byte) (map[string]span, error) {
	rows, err := tx.QueryContext(ctx, query, string(idList))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	spans := make(map[string]span)
	for rows.Next() {
		var id string
		var sp span
		if err := rows.Scan(&id, &sp.first, &sp.last, &sp.minSource, &sp.maxSource); err != nil {
			return nil, err
		}
		spans[id] = sp
	}
	return spans, rows.Err()
}

// ScanObjects pages with a keyset on date_added inside one read transaction, so
// the summary of phase 1 and the rows of phase 2 come from the same snapshot.
func (s *Store) ScanObjects(ctx context.Context, q store.Query, begin func(store.Page) error, each func(store.Row) error) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if q.Limit < 1 {
		return fmt.Errorf("sqlite: query limit %d, want >= 1", q.Limit)
	}
	// An id list is found through the id index, in an indexed feed too (its
	// membership is then a condition), and its page read by rowid.
	byIDs := len(q.IDs) > 0
	where, args, err := queryConditions(q, s.now().UnixMicro(), !byIDs)
	if err != nil {
		return err
	}
	keysSQL, rowsSQL := scanKeys, scanRows
	switch {
	case byIDs && q.NoRaw:
		rowsSQL = scanRowsByKeyNoRaw
	case byIDs:
		rowsSQL = scanRowsByKey
	case q.Feed.Indexed() && q.NoRaw:
		keysSQL, rowsSQL = scanMemberKeys, scanMemberRowsNoRaw
	case q.Feed.Indexed():
		keysSQL, rowsSQL = scanMemberKeys, scanMemberRows
	case q.NoRaw:
		rowsSQL = scanRowsNoRaw
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return interpretError(err)
	}
	defer func() { _ = tx.Rollback() }()
	if q.Feed.Indexed() {
		// The first read, so in the page's snapshot: a feed whose entries are
		// being built would show a part of itself.
		var building bool
		if err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT build_end IS NOT NULL FROM feeds WHERE id = ?), 0)`,
			canonicalID(q.Feed.Index)).Scan(&building); err != nil {
			return interpretError(err)
		}
		if building {
			return store.ErrBuilding
		}
	}

	keys, err := scanKeyList(ctx, tx, keysSQL, where, slices.Concat(args, []any{max(q.AddedAfter, q.After), q.Limit + 1}))
	if err != nil {
		return interpretError(err)
	}
	page, more, err := store.BeginPage(keys, q.Limit, begin)
	if err != nil || !more {
		return err
	}

	query, rowArgs := fmt.Sprintf(rowsSQL, where), slices.Concat(args, []any{page.First, page.Last})
	if byIDs {
		list, err := json.Marshal(keys[:page.Count])
		if err != nil {
			return err
		}
		query, rowArgs = rowsSQL, []any{string(list)}
	}
	rows, err := tx.QueryContext(ctx, query, rowArgs...)
	if err != nil {
		return interpretError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var row store.Row
		// RawBytes avoids a copy: Row.Raw is only valid during each. NULL with NoRaw.
		if err := rows.Scan(&row.DateAdded, &row.ID, &row.Type, &row.SpecVersion, &row.Version, (*sql.RawBytes)(&row.Raw)); err != nil {
			return interpretError(err)
		}
		if err := each(row); err != nil {
			return err
		}
	}
	return interpretError(rows.Err())
}

// scanKeyList reads the date_added values of phase 1 (keysSQL with where; args
// end with the lower bound and limit+1).
func scanKeyList(ctx context.Context, tx *sql.Tx, keysSQL, where string, args []any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(keysSQL, where), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []int64
	for rows.Next() {
		var da int64
		if err := rows.Scan(&da); err != nil {
			return nil, err
		}
		keys = append(keys, da)
	}
	return keys, rows.Err()
}

// DeleteObject deletes the selected versions of id and recomputes the flags of
// the versions left, in one write transaction. A confined delete (source set)
// of an object with another source's versions is rolled back.
func (s *Store) DeleteObject(ctx context.Context, feed store.FeedFilter, id string, versions store.VersionMatch, specVersions []string, source string) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	where, args, err := queryConditions(store.Query{Feed: feed, Versions: versions, SpecVersions: specVersions}, s.now().UnixMicro(), false)
	if err != nil {
		return 0, err
	}
	where = condID + and + where
	args = append([]any{id}, args...)
	var n int64
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		foreign := false
		if source != "" {
			if err := tx.QueryRowContext(ctx, otherSource, id, source).Scan(&foreign); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, fmt.Sprintf(deleteVersions, where), args...)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		if foreign {
			return store.ErrOtherSource
		}
		if _, err = tx.ExecContext(ctx, markChanged, s.now().UnixMicro()); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, refreshFlags, id); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, syncMemberFlags, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, syncObservableFlags, id)
		return err
	})
	if err != nil {
		return 0, interpretError(err)
	}
	return int(n), nil
}

// ListSources implements store.Sources.
func (s *Store) ListSources(ctx context.Context) ([]store.SourceCount, error) {
	rows, err := s.r.QueryContext(ctx, listSources)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.SourceCount
	for rows.Next() {
		var sc store.SourceCount
		if err := rows.Scan(&sc.Source, &sc.Objects); err != nil {
			return nil, interpretError(err)
		}
		out = append(out, sc)
	}
	return out, interpretError(rows.Err())
}

// queryConditions turns the filters of q (not the date_added bounds) into a
// conjunction of the fixed conditions above, and their arguments. It is never
// empty, so callers can append " AND ...". now (µs) decides expiry. An Indexed
// feed filter becomes its membership index: a join condition with join (the
// scanMember queries), else a semi-join.
func queryConditions(q store.Query, now int64, join bool) (string, []any, error) {
	var conds []string
	var args []any
	feedTypes := q.Feed.ReadTypes()
	switch {
	case q.Feed.Indexed() && q.Feed.Index == "":
		return "", nil, store.ErrNeedsIndex
	case q.Feed.Indexed() && join:
		conds, args = append(conds, condMember), append(args, canonicalID(q.Feed.Index))
		feedTypes = nil
	case q.Feed.Indexed():
		conds, args = append(conds, condMemberIn), append(args, canonicalID(q.Feed.Index))
		feedTypes = nil
	}
	if q.Feed.ExcludeExpired {
		conds, args = append(conds, condNotExpired), append(args, now)
	}
	addList := func(cond string, list []string) error {
		b, err := json.Marshal(list)
		if err != nil {
			return err
		}
		conds = append(conds, cond)
		args = append(args, string(b))
		return nil
	}
	// With ids, their index is the way in; a type equality would tempt the planner away from it.
	if types, restricted := allowedTypes(feedTypes, q.Types); restricted {
		if len(types) == 1 && len(q.IDs) == 0 {
			conds = append(conds, condType)
			args = append(args, types[0])
		} else if err := addList(condTypes, types); err != nil {
			return "", nil, err
		}
	}
	if len(q.IDs) > 0 {
		if err := addList(condIDs, q.IDs); err != nil {
			return "", nil, err
		}
	}
	if q.ModifiedAfter != "" {
		conds = append(conds, condModifiedAfter)
		args = append(args, q.ModifiedAfter)
	}
	if len(q.SpecVersions) > 0 {
		if err := addList(condSpecVersions, q.SpecVersions); err != nil {
			return "", nil, err
		}
	}

	v := q.Versions
	if !v.All {
		var alts []string
		if v.First {
			alts = append(alts, condFirst)
		}
		if v.WantsLatest() {
			alts = append(alts, condLatest)
		}
		if len(v.Times) > 0 {
			b, err := json.Marshal(v.Times)
			if err != nil {
				return "", nil, err
			}
			alts = append(alts, condTimes)
			args = append(args, string(b))
		}
		if len(v.DateAdded) > 0 {
			b, err := json.Marshal(v.DateAdded)
			if err != nil {
				return "", nil, err
			}
			alts = append(alts, condUnversioned)
			args = append(args, string(b))
		}
		if len(alts) == 1 {
			// Alone, is_latest = 1 lets SQLite use the partial index.
			conds = append(conds, alts[0])
		} else {
			conds = append(conds, "("+strings.Join(alts, " OR ")+")")
		}
	}
	if len(conds) == 0 {
		return "1", nil, nil
	}
	return strings.Join(conds, and), args, nil
}

// allowedTypes is the set both the feed and match[type] allow (an empty list
// allows every type); restricted is false when that is every type. The set may
// be empty: then nothing matches.
func allowedTypes(feed, match []string) (types []string, restricted bool) {
	switch {
	case len(feed) == 0 && len(match) == 0:
		return nil, false
	case len(feed) == 0:
		types = slices.Clone(match)
	case len(match) == 0:
		types = slices.Clone(feed)
	default:
		for _, t := range match {
			if slices.Contains(feed, t) {
				types = append(types, t)
			}
		}
	}
	slices.Sort(types)
	return slices.Compact(types), true
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
