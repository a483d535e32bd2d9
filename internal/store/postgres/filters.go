package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/store"
)

// memberPredicate is true when the feed row f shows the object row o, leaving
// expiry out (it depends on the time of the read). It is the one definition of
// a feed's membership, used at ingest and when a feed is created or updated.
const memberPredicate = `((f.with_context AND o.type IN ('identity', 'marking-definition')) OR (
	(cardinality(f.types) = 0 OR o.type = ANY(f.types))
	AND NOT (o.type = ANY(f.exclude_types))
	AND (cardinality(f.tlp) = 0 OR o.tlp = ANY(f.tlp))
	AND (cardinality(f.sources) = 0 OR o.source = ANY(f.sources))
	AND (cardinality(f.created_by) = 0 OR o.creators && f.created_by)
	AND (f.min_confidence = 0 OR o.confidence >= f.min_confidence)
	AND (cardinality(f.labels) = 0 OR o.labels && f.labels)
	AND NOT (f.exclude_revoked AND o.revoked)))`

// memberColumns are the columns of a membership entry: every column a page
// reads, so that a feed's page is read from its own partition alone.
const memberColumns = `feed_id, date_added, is_latest, is_first, valid_until,
	id, type, spec_version, created, modified, version_key, raw`

// memberValues are memberColumns taken from feed f and object o.
const memberValues = `f.id, o.date_added, o.is_latest, o.is_first, o.valid_until,
	o.id, o.type, o.spec_version, o.created, o.modified, o.version_key, o.raw`

// addMembers enters the versions of one AddObjects call ($1..$2 is its
// date_added range) into the membership index of every indexed feed, with the
// columns a page reads from the entries (fixFlags keeps the flags true).
const addMembers = `INSERT INTO feed_members (` + memberColumns + `)
SELECT ` + memberValues + `
FROM feeds f JOIN objects o ON o.date_added BETWEEN $1 AND $2
WHERE f.indexed AND ` + memberPredicate + `
ORDER BY o.date_added
ON CONFLICT DO NOTHING`

// buildMembers enters the versions with date_added in ($2, $3] into the
// membership index of feed $1, in date_added order: its rows then lie in the
// order pages read them. One step of a build (buildStep).
const buildMembers = `INSERT INTO feed_members (` + memberColumns + `)
SELECT ` + memberValues + ` FROM feeds f CROSS JOIN objects o
WHERE f.id = $1::uuid AND f.indexed AND o.date_added > $2 AND o.date_added <= $3 AND ` + memberPredicate + `
ORDER BY o.date_added`

// filterCols are the filter-field columns of the rows of one insert.
type filterCols struct {
	tlp, confidence  []int16
	creators, labels []string // JSON arrays
	revoked          []bool
	validUntil       []int64
}

// filterColumns extracts the filter fields of objs[uniq...] and resolves their
// TLP: the fixed ids, marking definitions of this call, then those stored.
func (s *Store) filterColumns(ctx context.Context, tx pgx.Tx, objs []store.Object, uniq []int) (filterCols, error) {
	n := len(uniq)
	fields := make([]store.Fields, n)
	known := map[string]store.TLP{}
	var defIDs []string
	var defLevels []int16
	for j, i := range uniq {
		fields[j] = store.ExtractFields(objs[i].Raw)
		if l := fields[j].DefinesTLP; l != store.TLPNone {
			known[objs[i].ID] = l
			defIDs, defLevels = append(defIDs, objs[i].ID), append(defLevels, int16(l))
		}
	}
	var lookup []string
	seen := map[string]bool{}
	for _, f := range fields {
		for _, r := range f.MarkingRefs {
			if _, fixed := store.TLPMarkings[r]; !fixed && !seen[r] {
				if _, ok := known[r]; !ok {
					seen[r] = true
					lookup = append(lookup, r)
				}
			}
		}
	}
	if len(lookup) > 0 {
		rows, err := tx.Query(ctx, `SELECT id, level FROM marking_tlp WHERE id = ANY($1::text[])`, lookup)
		if err != nil {
			return filterCols{}, err
		}
		var id string
		var level int16
		if _, err := pgx.ForEachRow(rows, []any{&id, &level}, func() error {
			known[id] = store.TLP(level)
			return nil
		}); err != nil {
			return filterCols{}, err
		}
	}
	if len(defIDs) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO marking_tlp (id, level)
			SELECT * FROM unnest($1::text[], $2::smallint[]) ON CONFLICT (id) DO NOTHING`, defIDs, defLevels); err != nil {
			return filterCols{}, err
		}
	}
	c := filterCols{
		tlp: make([]int16, n), confidence: make([]int16, n), creators: make([]string, n),
		labels: make([]string, n), revoked: make([]bool, n), validUntil: make([]int64, n),
	}
	for j, f := range fields {
		c.tlp[j] = int16(store.ResolveTLP(f.MarkingRefs, known))
		c.confidence[j] = int16(f.Confidence)
		c.creators[j], c.labels[j] = store.JSONList(f.Creators), store.JSONList(f.Labels)
		c.revoked[j], c.validUntil[j] = f.Revoked, f.ValidUntil
	}
	return c, nil
}

// ObjectTypes implements store.Feeds: a loose index scan over objects_type_idx,
// one probe per distinct type instead of reading every row.
func (s *Store) ObjectTypes(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `WITH RECURSIVE t(type) AS (
		SELECT min(type) FROM objects
		UNION ALL
		SELECT (SELECT min(o.type) FROM objects o WHERE o.type > t.type) FROM t WHERE t.type IS NOT NULL
	) SELECT type FROM t WHERE type IS NOT NULL`)
	if err != nil {
		return nil, interpretError(err)
	}
	types, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return types, interpretError(err)
}

// FeedStats implements store.Feeds.
func (s *Store) FeedStats(ctx context.Context, filter store.FeedFilter) (int64, int64, error) {
	var args []any
	where, err := conditions(filter, store.Query{}, &args, true)
	if err != nil {
		return 0, 0, err
	}
	var count, newest int64
	err = s.pool.QueryRow(ctx, `SELECT count(*), coalesce(max(date_added), 0) FROM `+relation(filter)+` WHERE `+where, args...).
		Scan(&count, &newest)
	return count, newest, interpretError(err)
}

// countFilter counts the latest versions a filter given as arguments shows,
// through the one membership predicate, reading at most $12 rows. The filter
// is a one-row relation f with the columns of feeds.
const countFilter = `SELECT count(*) FROM (SELECT 1 FROM (SELECT $1::text[] AS types, $2::text[] AS exclude_types,
	$3::smallint[] AS tlp, $4::text[] AS sources, $5::text[] AS created_by, $6::integer AS min_confidence,
	$7::text[] AS labels, $8::boolean AS exclude_revoked, $9::boolean AS exclude_expired, $10::boolean AS with_context,
	$11::boolean AS indexed) f CROSS JOIN objects o
	WHERE o.is_latest AND ` + memberPredicate + `
	AND NOT (f.exclude_expired AND o.valid_until IS NOT NULL AND o.valid_until <= $13::bigint)
	LIMIT $12) m`

// CountFilter implements store.Feeds.
func (s *Store) CountFilter(ctx context.Context, filter store.FeedFilter, max int64) (int64, error) {
	args := append(filterArgs(filter), max, time.Now().UnixMicro())
	var n int64
	err := s.pool.QueryRow(ctx, countFilter, args...).Scan(&n)
	return n, interpretError(err)
}
