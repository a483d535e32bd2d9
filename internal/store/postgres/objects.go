package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/stix"
	"github.com/inthreat/taxii-server/internal/store"
)

// lockClock takes the store clock until commit and returns the first free date_added.
// Holding the row lock serialises writers, so date_added follows commit order.
const lockClock = `SELECT last_us, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
FROM store_clock WHERE one FOR UPDATE`

const setClock = `UPDATE store_clock SET last_us = $1 WHERE one`

// insertObjects stores the new versions as latest and first of their object, and
// returns for each inserted row whether its object had another version before.
// The outer SELECT does not see the rows its WITH inserts (one snapshot for the
// whole statement), so EXISTS finds only versions stored before this call.
// Lists of the filter fields (creators, labels) travel as JSON arrays, one per
// row: unnest needs flat arrays.
const insertObjects = `WITH ins AS (
	INSERT INTO objects
		(date_added, id, type, spec_version, created, modified, version_key, is_latest, is_first, raw,
		 tlp, creators, confidence, labels, revoked, valid_until, source, digest)
	SELECT date_added, id, type, spec_version, created, modified, version_key, true, true, raw,
		tlp, ARRAY(SELECT jsonb_array_elements_text(creators::jsonb)), nullif(confidence, -1),
		ARRAY(SELECT jsonb_array_elements_text(labels::jsonb)), revoked, nullif(valid_until, 0), source, digest
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[],
		$9::smallint[], $10::text[], $11::smallint[], $12::text[], $13::boolean[], $14::bigint[], $15::text[], $16::bytea[])
		AS t(date_added, id, type, spec_version, created, modified, version_key, raw,
		     tlp, creators, confidence, labels, revoked, valid_until, source, digest)
	ON CONFLICT (id, version_key) DO NOTHING
	RETURNING date_added, id
)
SELECT date_added, EXISTS (SELECT 1 FROM objects o WHERE o.id = ins.id) FROM ins`

// existingVersions reads the stored versions an insert met, with their digest;
// the bytes only of versions stored before digests were (migration 9).
const existingVersions = `SELECT o.id, o.version_key, o.date_added, o.digest, CASE WHEN o.digest IS NULL THEN o.raw END
FROM objects o JOIN unnest($1::text[], $2::text[]) AS t(id, version_key)
	ON o.id = t.id AND o.version_key = t.version_key`

// setDigests saves the digests computed for versions stored before migration 9,
// so each is computed once.
const setDigests = `UPDATE objects o SET digest = t.digest
FROM unnest($1::bigint[], $2::bytea[]) AS t(date_added, digest) WHERE o.date_added = t.date_added`

// fixFlags recomputes is_latest/is_first for the given ids, writing only rows
// that change, and copies the change into the feeds' membership entries, which
// carry the flags so that a feed page is read from its index alone.
const fixFlags = `WITH m AS (
	SELECT id, max(version_key) AS maxv, min(version_key) AS minv
	FROM objects WHERE id = ANY($1::text[]) GROUP BY id
), changed AS (
	UPDATE objects o SET is_latest = (o.version_key = m.maxv), is_first = (o.version_key = m.minv)
	FROM m
	WHERE o.id = m.id AND (o.is_latest <> (o.version_key = m.maxv) OR o.is_first <> (o.version_key = m.minv))
	RETURNING o.date_added, o.is_latest, o.is_first
)
UPDATE feed_members f SET is_latest = c.is_latest, is_first = c.is_first
FROM changed c WHERE f.date_added = c.date_added`

// sourcesOf reads the least and greatest source of the stored versions of ids:
// an object has one source when they are equal.
const sourcesOf = `SELECT id, min(source), max(source) FROM objects WHERE id = ANY($1::text[]) GROUP BY id`

// otherSource tells whether a version of id $1 came from a source other than $2.
const otherSource = `SELECT EXISTS (SELECT 1 FROM objects WHERE id = $1 AND source <> $2)`

// listSources counts objects (ids) per source; active keys' sources count 0 more.
const listSources = `SELECT source, sum(n)::bigint FROM (
	SELECT source, count(DISTINCT id) AS n FROM objects GROUP BY source
	UNION ALL
	SELECT source, 0 FROM api_keys WHERE revoked_at IS NULL
) s GROUP BY source ORDER BY source`

// deleteObjects deletes the versions that match a condition (%s) with their
// feeds' membership entries, and counts them: a page reads its keys from the
// entries alone, so each must have its row.
const deleteObjects = `WITH gone AS (DELETE FROM objects WHERE %s RETURNING date_added),
members AS (DELETE FROM feed_members WHERE date_added IN (SELECT date_added FROM gone))
SELECT count(*) FROM gone`

type versionRef struct{ id, key string }

// insertChunkBytes bounds the object JSON one insert statement carries.
const insertChunkBytes = 4 << 20

// refuseOtherSources marks, in input order, each confined object of which a
// stored version, or an earlier object of the call, has another source.
func refuseOtherSources(ctx context.Context, tx pgx.Tx, objs []store.Object, ids []string, out []store.AddOutcome) error {
	type sources struct{ min, max string }
	known := make(map[string]sources)
	rows, err := tx.Query(ctx, sourcesOf, ids)
	if err != nil {
		return err
	}
	var id string
	var src sources
	if _, err := pgx.ForEachRow(rows, []any{&id, &src.min, &src.max}, func() error {
		known[id] = src
		return nil
	}); err != nil {
		return err
	}
	for i, o := range objs {
		if out[i].Refused != nil {
			continue
		}
		have, ok := known[o.ID]
		if o.Confined && ok && (have.min != o.Source || have.max != o.Source) {
			out[i].Refused = store.ErrOtherSource
			continue
		}
		if !ok {
			have = sources{o.Source, o.Source}
		}
		known[o.ID] = sources{min(have.min, o.Source), max(have.max, o.Source)}
	}
	return nil
}

// AddObjects implements store.Objects. Objects it refuses (an unorderable
// version, another source's object for a confined writer) get their reason and
// take no date_added.
func (s *Store) AddObjects(ctx context.Context, objs []store.Object) ([]store.AddOutcome, error) {
	if len(objs) == 0 {
		return make([]store.AddOutcome, 0), nil
	}
	return s.addObjects(ctx, objs, nil)
}

// addObjects is AddObjects; inTx, when set, runs at the start of its
// transaction (before the clock is locked), so that what it writes commits
// with the objects or not at all; its error rolls everything back.
func (s *Store) addObjects(ctx context.Context, objs []store.Object, inTx func(tx pgx.Tx) error) ([]store.AddOutcome, error) {
	var out []store.AddOutcome
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
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

// AddObjectBatches implements store.Objects. Each batch locks the clock (a
// no-op after the first) and moves it on, so the batches take increasing
// date_added as one call would; the lock is held until commit.
func (s *Store) AddObjectBatches(ctx context.Context, next func() ([]store.Object, error)) ([]store.AddOutcome, error) {
	var out []store.AddOutcome
	var nextErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) (err error) {
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

// addBatch stores objs in tx, the clock locked until commit. Objects of
// earlier batches of tx count as stored before.
func (s *Store) addBatch(ctx context.Context, tx pgx.Tx, objs []store.Object) ([]store.AddOutcome, error) {
	out := make([]store.AddOutcome, len(objs))
	keys := make([]string, len(objs))
	digests := make([][]byte, len(objs))
	var confined []string // ids of confined objects
	for i, o := range objs {
		k, err := store.VersionKey(store.ObjectVersion(o.Created, o.Modified))
		if err != nil {
			out[i].Refused = fmt.Errorf("version %w", err)
			continue
		}
		if digests[i], err = store.ObjectDigest(o); err != nil {
			out[i].Refused = err
			continue
		}
		keys[i] = k
		if o.Confined {
			confined = append(confined, o.ID)
		}
	}

	first := make(map[versionRef]int, len(objs)) // first input index of each version
	kept := make(map[versionRef][]byte)          // digest of the content kept, for repeats
	err := func() error {
		if len(objs) == 0 {
			return nil
		}
		var last, wall int64
		if err := tx.QueryRow(ctx, lockClock).Scan(&last, &wall); err != nil {
			return err
		}
		base := max(last+1, wall)
		// With the clock locked no other writer commits, so the sources read
		// here stay true until this transaction ends.
		if len(confined) > 0 {
			if err := refuseOtherSources(ctx, tx, objs, confined, out); err != nil {
				return err
			}
		}
		var uniq []int
		for i, o := range objs {
			if out[i].Refused != nil {
				continue
			}
			ref := versionRef{o.ID, keys[i]}
			if _, dup := first[ref]; !dup {
				first[ref] = i
				uniq = append(uniq, i)
			}
		}
		if len(uniq) == 0 {
			return nil
		}

		n := len(uniq)
		dateAdded := make([]int64, n)
		ids, types, specs := make([]string, n), make([]string, n), make([]string, n)
		created, modified, vkeys := make([]string, n), make([]string, n), make([]string, n)
		sources := make([]string, n)
		raws, digs := make([][]byte, n), make([][]byte, n)
		for j, i := range uniq {
			o := objs[i]
			dateAdded[j] = base + int64(j)
			ids[j], types[j], specs[j] = o.ID, o.Type, o.SpecVersion
			created[j], modified[j], vkeys[j] = o.Created, o.Modified, keys[i]
			raws[j], sources[j], digs[j] = o.Raw, o.Source, digests[i]
		}
		fc, err := s.filterColumns(ctx, tx, objs, uniq)
		if err != nil {
			return err
		}
		// Row j of the input got date_added base+j; inserted[j] says it was stored.
		inserted := make([]bool, n)
		// An object's flags need fixing when it now has several versions: it had
		// one before, or this call added two of it. Most calls add new objects only.
		fix := make(map[string]bool)
		// The rows go in slices of at most insertChunkBytes of JSON: the statement's
		// parameters are encoded in one buffer, so a 100 MB request would
		// otherwise cost another 100 MB (and more while the buffer grows).
		for lo := 0; lo < n; {
			hi, size := lo, 0
			for hi < n && (hi == lo || size+len(raws[hi]) <= insertChunkBytes) {
				size += len(raws[hi])
				hi++
			}
			rows, err := tx.Query(ctx, insertObjects, dateAdded[lo:hi], ids[lo:hi], types[lo:hi], specs[lo:hi],
				created[lo:hi], modified[lo:hi], vkeys[lo:hi], raws[lo:hi],
				fc.tlp[lo:hi], fc.creators[lo:hi], fc.confidence[lo:hi], fc.labels[lo:hi], fc.revoked[lo:hi], fc.validUntil[lo:hi], sources[lo:hi], digs[lo:hi])
			if err != nil {
				return err
			}
			var d int64
			var hadOther bool
			_, err = pgx.ForEachRow(rows, []any{&d, &hadOther}, func() error {
				j := d - base
				if j < int64(lo) || j >= int64(hi) {
					return fmt.Errorf("postgres: insert returned date_added %d outside [%d, %d)", d, base+int64(lo), base+int64(hi))
				}
				inserted[j] = true
				if hadOther {
					fix[ids[j]] = true
				}
				return nil
			})
			if err != nil {
				return err
			}
			lo = hi
		}

		var touched, missIDs, missKeys []string
		addedOf := make(map[string]int, n)
		for j, i := range uniq {
			if inserted[j] {
				out[i] = store.AddOutcome{Added: true, DateAdded: dateAdded[j]}
				kept[versionRef{ids[j], vkeys[j]}] = digs[j]
				if addedOf[ids[j]]++; addedOf[ids[j]] == 2 {
					fix[ids[j]] = true
				}
			} else {
				missIDs, missKeys = append(missIDs, ids[j]), append(missKeys, vkeys[j])
			}
		}
		for id := range fix {
			touched = append(touched, id)
		}
		slices.Sort(touched)
		if len(missIDs) > 0 {
			rows, err := tx.Query(ctx, existingVersions, missIDs, missKeys)
			if err != nil {
				return err
			}
			var id, key string
			var d int64
			var dig, raw []byte
			var fillAt []int64
			var fill [][]byte
			_, err = pgx.ForEachRow(rows, []any{&id, &key, &d, &dig, &raw}, func() error {
				if dig == nil {
					if dig, err = stix.Digest(raw); err != nil {
						return fmt.Errorf("stored version %s %s: %w", id, key, err)
					}
					fillAt, fill = append(fillAt, d), append(fill, dig)
				}
				ref := versionRef{id, key}
				i := first[ref]
				kept[ref] = slices.Clone(dig)
				out[i] = store.AddOutcome{DateAdded: d, Conflict: !bytes.Equal(dig, digests[i])}
				return nil
			})
			if err != nil {
				return err
			}
			if len(fillAt) > 0 {
				if _, err := tx.Exec(ctx, setDigests, fillAt, fill); err != nil {
					return err
				}
			}
		}
		if len(touched) > 0 {
			if _, err := tx.Exec(ctx, fixFlags, touched); err != nil {
				return err
			}
		}
		var obsAdded []int64
		var obs [][]store.Observable
		for j, i := range uniq {
			if inserted[j] && len(objs[i].Observables) > 0 {
				obsAdded, obs = append(obsAdded, dateAdded[j]), append(obs, objs[i].Observables)
			}
		}
		if err := addObservables(ctx, tx, obsAdded, obs); err != nil {
			return err
		}
		if len(touched) > 0 {
			if _, err := tx.Exec(ctx, syncObservableFlags, touched); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, addMembers, base, base+int64(n)-1); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, setClock, base+int64(n)-1)
		return err
	}()
	if err != nil {
		return nil, err
	}
	// Repeats of a version within the request are not added; each is compared
	// with the content kept, the first of the request or the one stored before.
	for i, o := range objs {
		if out[i].Refused != nil {
			continue
		}
		ref := versionRef{o.ID, keys[i]}
		if j := first[ref]; j != i {
			out[i] = store.AddOutcome{DateAdded: out[j].DateAdded, Conflict: !bytes.Equal(kept[ref], digests[i])}
		}
	}
	return out, nil
}

// conditions builds the WHERE clause of q with numbered placeholders; no value but a feed's id (see below) enters the SQL text.
// A feed filter that is Indexed is served by its membership index: with own the
// clause is on the rows of relation(feed), the feed's own entries, which carry
// every column it names; without, on objects, the entries a semi-join.
func conditions(feed store.FeedFilter, q store.Query, args *[]any, own bool) (string, error) {
	var conds []string
	arg := func(v any) string {
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
	// One type is an equality, not an array: the planner can then read the
	// (type, date_added) indexes in date_added order and stop at the limit, where
	// "type = ANY(array)" makes it collect every later row and sort (a feed of
	// indicators is the usual case).
	inTypes := func(types []string) string {
		if len(types) == 1 {
			return "type = " + arg(types[0]) + "::text"
		}
		return "type = ANY(" + arg(types) + "::text[])"
	}
	// The feed's id is the one value written into the text (a canonical UUID:
	// nothing else can be): the planner then reads the feed's partition alone.
	// As a parameter, a cached generic plan would lock every feed's partition
	// and its indexes on each read, which with hundreds of feeds and many
	// readers fills Postgres's lock table.
	feedID, isUUID := store.CanonicalUUID(feed.Index)
	switch {
	case feed.Indexed() && !isUUID:
		return "", store.ErrNeedsIndex
	case feed.Indexed() && own:
		conds = append(conds, "feed_id = '"+feedID+"'::uuid")
	case feed.Indexed():
		conds = append(conds, "date_added IN (SELECT date_added FROM feed_members WHERE feed_id = '"+feedID+"'::uuid)")
	case len(feed.ReadTypes()) > 0:
		conds = append(conds, inTypes(feed.ReadTypes()))
	}
	if feed.ExcludeExpired {
		conds = append(conds, "(valid_until IS NULL OR valid_until > "+arg(time.Now().UnixMicro())+"::bigint)")
	}
	if len(q.Types) > 0 {
		conds = append(conds, inTypes(q.Types))
	}
	if len(q.IDs) > 0 {
		conds = append(conds, "id = ANY("+arg(q.IDs)+"::text[])")
	}
	if c := versionCondition(q.Versions, arg); c != "" {
		conds = append(conds, c)
	}
	if len(q.SpecVersions) > 0 {
		conds = append(conds, "spec_version = ANY("+arg(q.SpecVersions)+"::text[])")
	}
	if q.ModifiedAfter != "" {
		conds = append(conds, "version_key > "+arg(q.ModifiedAfter)+"::text")
	}
	if after := max(q.AddedAfter, q.After); after > 0 {
		conds = append(conds, "date_added > "+arg(after)+"::bigint")
	}
	if len(conds) == 0 {
		return "true", nil
	}
	return strings.Join(conds, " AND "), nil
}

// relation is the table that the rows of feed's pages are read from: an
// Indexed feed's own partition of feed_members (the rows lie together, where
// in objects a selective feed's lie a table page apart), else objects.
func relation(feed store.FeedFilter) string {
	if feed.Indexed() {
		return "feed_members"
	}
	return "objects"
}

func versionCondition(v store.VersionMatch, arg func(any) string) string {
	if v.All {
		return ""
	}
	var alts []string
	if v.WantsLatest() {
		alts = append(alts, "is_latest")
	}
	if v.First {
		alts = append(alts, "is_first")
	}
	if len(v.Times) > 0 {
		alts = append(alts, "version_key = ANY("+arg(v.Times)+"::text[])")
	}
	if len(v.DateAdded) > 0 {
		alts = append(alts, "(version_key = '' AND date_added = ANY("+arg(v.DateAdded)+"::bigint[]))")
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return "(" + strings.Join(alts, " OR ") + ")"
}

// idKeysSQL is phase 1 of ScanObjects for a match[id] list: the date_added
// values of the page and one more. Each id is looked up in the (id, version_key)
// index (a join on the unnested list) and the few rows found are sorted. The
// MATERIALIZED CTE keeps the planner from walking a date_added index (or a
// feed's membership index) instead and filtering ids on the way, which reads
// the whole feed when the ids are rare or many (1,400 ids in a 350k-object feed
// took 4 s). An id list is capped, so what is sorted is small. Phase 2 then
// reads the page's rows by primary key.
func idKeysSQL(q store.Query) (string, []any, error) {
	var args []any
	cq := q
	cq.IDs = nil // the join selects them
	where, err := conditions(q.Feed, cq, &args, false)
	if err != nil {
		return "", nil, err
	}
	args = append(args, q.IDs)
	return "WITH m AS MATERIALIZED (SELECT date_added FROM unnest($" + strconv.Itoa(len(args)) + "::text[]) AS wanted(want_id) " +
		"JOIN objects ON id = want_id WHERE " + where + ") " +
		"SELECT date_added FROM m ORDER BY date_added LIMIT " + strconv.Itoa(q.Limit+1), args, nil
}

// pageSQL is ScanObjects for a page that is not an id list: phase 1 reads the
// keys of the page and one more in date_added order, phase 2 the rows (cols) of
// their range, both from relation(q.Feed) alone: an Indexed feed's entries
// carry every column a page reads.
func pageSQL(q store.Query, cols string) (keys string, rows func(first, last int64) string, args []any, err error) {
	where, err := conditions(q.Feed, q, &args, true)
	if err != nil {
		return "", nil, nil, err
	}
	from := " FROM " + relation(q.Feed) + " WHERE " + where
	rows = func(first, last int64) string {
		return "SELECT " + cols + from +
			" AND date_added BETWEEN " + strconv.FormatInt(first, 10) + " AND " + strconv.FormatInt(last, 10) +
			" ORDER BY date_added"
	}
	return "SELECT date_added" + from + " ORDER BY date_added LIMIT " + strconv.Itoa(q.Limit+1), rows, args, nil
}

// ScanObjects implements store.Objects: a key-only pass sizes the page, then the
// rows of exactly that range stream, both in one repeatable-read snapshot.
func (s *Store) ScanObjects(ctx context.Context, q store.Query, begin func(store.Page) error, each func(store.Row) error) error {
	if q.Limit < 1 {
		return fmt.Errorf("postgres: query limit %d < 1", q.Limit)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return interpretError(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only; nothing to keep

	cols := "date_added, id, type, spec_version, created, modified"
	if !q.NoRaw {
		cols += ", raw"
	}
	var (
		args     []any
		keysSQL  string
		rangeSQL func(first, last int64) string // nil: the page's rows are read by their keys
	)
	if q.Feed.Indexed() && q.Feed.Index != "" { // without Index: ErrNeedsIndex below
		// The first statement, so in the page's snapshot: a feed whose entries
		// are being built would show a part of itself (ErrBuilding). And, but
		// for an id list, its entries are read in their index's order up to the
		// limit, never collected and sorted: that would cost the rest of the
		// feed, and the planner picks it whenever the partition's statistics
		// are stale (after a feed update or a large import, before autovacuum's
		// ANALYZE). One round trip for both.
		var building bool
		if err := tx.QueryRow(ctx, `SELECT set_config('enable_sort', $2, true),
			coalesce((SELECT build_end IS NOT NULL FROM feeds WHERE id = $1::uuid), false)`,
			q.Feed.Index, strconv.FormatBool(len(q.IDs) > 0)).Scan(nil, &building); err != nil {
			return interpretError(err)
		}
		if building {
			return store.ErrBuilding
		}
	}
	switch {
	case len(q.IDs) > 0:
		if keysSQL, args, err = idKeysSQL(q); err != nil {
			return err
		}
	default:
		if keysSQL, rangeSQL, args, err = pageSQL(q, cols); err != nil {
			return err
		}
	}
	rows, err := tx.Query(ctx, keysSQL, args...)
	if err != nil {
		return interpretError(err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return interpretError(err)
	}
	page, more, err := store.BeginPage(keys, q.Limit, begin)
	if err != nil || !more {
		return err
	}

	if rangeSQL == nil {
		// The rows of an id list or of a selective feed lie apart: fetch exactly
		// the page's by primary key, in one batch.
		rows, err = tx.Query(ctx, "SELECT "+cols+" FROM objects WHERE date_added = ANY($1::bigint[]) ORDER BY date_added", keys[:page.Count])
	} else {
		rows, err = tx.Query(ctx, rangeSQL(page.First, page.Last), args...)
	}
	if err != nil {
		return interpretError(err)
	}
	defer rows.Close()
	for rows.Next() {
		// Raw values avoid copying every object; pgx returns binary int8 and bytea.
		vals := rows.RawValues()
		if len(vals[0]) != 8 {
			return fmt.Errorf("postgres: unexpected date_added encoding")
		}
		row := store.Row{
			DateAdded:   int64(binary.BigEndian.Uint64(vals[0])),
			ID:          string(vals[1]),
			Type:        string(vals[2]),
			SpecVersion: string(vals[3]),
			Version:     store.ObjectVersion(string(vals[4]), string(vals[5])),
		}
		if !q.NoRaw {
			row.Raw = vals[6]
		}
		if err := each(row); err != nil {
			return err
		}
	}
	return interpretError(rows.Err())
}

// DeleteObject implements store.Objects. It takes the clock, as writers do
// (markChanged, which also dates the change for blocklists): then no version of
// another source arrives between a confined delete's check and its delete, and
// no feed update rebuilds a membership index from flags this delete is changing.
func (s *Store) DeleteObject(ctx context.Context, feed store.FeedFilter, id string, versions store.VersionMatch, specVersions []string, source string) (int, error) {

	args := []any{}
	where, err := conditions(feed, store.Query{IDs: []string{id}, Versions: versions, SpecVersions: specVersions}, &args, false)
	if err != nil {
		return 0, err
	}
	var n int
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Taken first, as writers take it, so that no deadlock is possible with them.
		if _, err := tx.Exec(ctx, markChanged); err != nil {
			return err
		}
		foreign := false
		if source != "" {
			if err := tx.QueryRow(ctx, otherSource, id, source).Scan(&foreign); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, fmt.Sprintf(deleteObjects, where), args...).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if foreign {
			return store.ErrOtherSource
		}
		if _, err = tx.Exec(ctx, fixFlags, []string{id}); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, syncObservableFlags, []string{id})
		return err
	})
	if err != nil {
		return 0, interpretError(err)
	}
	if n == 0 {
		return 0, store.ErrNotFound
	}
	return n, nil
}

// ListSources implements store.Sources.
func (s *Store) ListSources(ctx context.Context) ([]store.SourceCount, error) {
	rows, err := s.pool.Query(ctx, listSources)
	if err != nil {
		return nil, interpretError(err)
	}
	var out []store.SourceCount
	var sc store.SourceCount
	_, err = pgx.ForEachRow(rows, []any{&sc.Source, &sc.Objects}, func() error {
		out = append(out, sc)
		return nil
	})
	return out, interpretError(err)
}

// Analyze refreshes the planner's statistics of the objects table and the feed
// membership index. Bulk imports call it so that the first pages after a large
// load get good plans before autovacuum runs (without, a feed's index looks
// empty and its pages are sorted instead of read in order).
func (s *Store) Analyze(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `ANALYZE objects, feed_members`)
	return interpretError(err)
}
