package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/inthreat/taxii-server/internal/store"
)

// memberPredicate is true when the feed row f shows the object row o, leaving
// expiry out (it depends on the time of the read). It is the one definition of
// a feed's membership, used at ingest and when a feed is created or updated.
// Lists are JSON arrays on both sides.
const memberPredicate = `((f.with_context AND o.type IN ('identity', 'marking-definition')) OR (
	(f.types = '[]' OR o.type IN (SELECT value FROM json_each(f.types)))
	AND o.type NOT IN (SELECT value FROM json_each(f.exclude_types))
	AND (f.tlp = '[]' OR o.tlp IN (SELECT value FROM json_each(f.tlp)))
	AND (f.sources = '[]' OR o.source IN (SELECT value FROM json_each(f.sources)))
	AND (f.created_by = '[]' OR EXISTS (SELECT 1 FROM json_each(o.creators) c
		WHERE c.value IN (SELECT value FROM json_each(f.created_by))))
	AND (f.min_confidence = 0 OR o.confidence >= f.min_confidence)
	AND (f.labels = '[]' OR EXISTS (SELECT 1 FROM json_each(o.labels) l
		WHERE l.value IN (SELECT value FROM json_each(f.labels))))
	AND NOT (f.exclude_revoked AND o.revoked)))`

const (
	// memberColumns are the columns of a membership entry: every column a page
	// reads, so that a feed's page is read from its own entries alone.
	memberColumns = `feed_id, date_added, is_latest, is_first, valid_until,
	id, type, spec_version, created, modified, version_key, raw`
	memberValues = `f.id, o.date_added, o.is_latest, o.is_first, o.valid_until,
	o.id, o.type, o.spec_version, o.created, o.modified, o.version_key, o.raw`

	// addMembers enters the versions of one AddObjects call (?1..?2, its
	// date_added range) into the membership index of every indexed feed.
	addMembers = `INSERT OR IGNORE INTO feed_members (` + memberColumns + `)
SELECT ` + memberValues + ` FROM feeds f CROSS JOIN objects o
WHERE f.indexed AND o.date_added BETWEEN ?1 AND ?2 AND ` + memberPredicate

	// buildMembers enters the versions with date_added in (?2, ?3] into the
	// membership index of feed ?1: one step of a build (buildStep).
	buildMembers = `INSERT INTO feed_members (` + memberColumns + `)
SELECT ` + memberValues + ` FROM feeds f CROSS JOIN objects o
WHERE f.id = ?1 AND f.indexed AND o.date_added > ?2 AND o.date_added <= ?3 AND ` + memberPredicate + ` ORDER BY o.date_added`

	// syncMemberFlags copies is_latest and is_first from the versions of id ?1
	// to their entries, whose pages read them there.
	syncMemberFlags = `UPDATE feed_members
SET is_latest = (SELECT o.is_latest FROM objects o WHERE o.date_added = feed_members.date_added),
    is_first = (SELECT o.is_first FROM objects o WHERE o.date_added = feed_members.date_added)
WHERE date_added IN (SELECT date_added FROM objects WHERE id = ?1)`

	deleteMembers = `DELETE FROM feed_members WHERE feed_id = ?`

	selectMarkingTLP = `SELECT id, level FROM marking_tlp WHERE id IN (SELECT value FROM json_each(?))`
	insertMarkingTLP = `INSERT OR IGNORE INTO marking_tlp (id, level) VALUES (?, ?)`
)

// objectFields are the filter-field column values of one version.
type objectFields struct {
	tlp              store.TLP
	creators, labels string // JSON arrays
	confidence       any    // int, or nil when absent
	revoked          bool
	validUntil       any // µs, or nil when absent
}

// extractFields reads the filter fields of objs and resolves their TLP: the
// fixed ids, marking definitions of this call, then those stored.
func extractFields(ctx context.Context, tx *sql.Tx, objs []store.Object) ([]objectFields, error) {
	fields := make([]store.Fields, len(objs))
	known := map[string]store.TLP{}
	for i, o := range objs {
		fields[i] = store.ExtractFields(o.Raw)
		if l := fields[i].DefinesTLP; l != store.TLPNone {
			known[o.ID] = l
			if _, err := tx.ExecContext(ctx, insertMarkingTLP, o.ID, int(l)); err != nil {
				return nil, err
			}
		}
	}
	var lookup []string
	seen := map[string]bool{}
	for _, f := range fields {
		for _, r := range f.MarkingRefs {
			_, fixed := store.TLPMarkings[r]
			_, ok := known[r]
			if !fixed && !ok && !seen[r] {
				seen[r] = true
				lookup = append(lookup, r)
			}
		}
	}
	if len(lookup) > 0 {
		b, err := json.Marshal(lookup)
		if err != nil {
			return nil, err
		}
		rows, err := tx.QueryContext(ctx, selectMarkingTLP, string(b))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var level int
			if err := rows.Scan(&id, &level); err != nil {
				return nil, err
			}
			known[id] = store.TLP(level)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]objectFields, len(objs))
	for i, f := range fields {
		of := objectFields{tlp: store.ResolveTLP(f.MarkingRefs, known), revoked: f.Revoked,
			creators: store.JSONList(f.Creators), labels: store.JSONList(f.Labels)}
		if f.Confidence >= 0 {
			of.confidence = f.Confidence
		}
		if f.ValidUntil != 0 {
			of.validUntil = f.ValidUntil
		}
		out[i] = of
	}
	return out, nil
}

// ObjectTypes implements store.Feeds: a loose scan of objects_latest_type, one
// probe per type (every object has a latest version, of the same type).
func (s *Store) ObjectTypes(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `WITH RECURSIVE t(type) AS (
		SELECT min(type) FROM objects WHERE is_latest = 1
		UNION ALL
		SELECT (SELECT min(o.type) FROM objects o WHERE o.type > t.type AND o.is_latest = 1) FROM t WHERE t.type IS NOT NULL
	) SELECT type FROM t WHERE type IS NOT NULL`)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var types []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, interpretError(err)
		}
		types = append(types, t)
	}
	return types, interpretError(rows.Err())
}

// FeedStats implements store.Feeds.
func (s *Store) FeedStats(ctx context.Context, filter store.FeedFilter) (int64, int64, error) {
	where, args, err := queryConditions(store.Query{Feed: filter}, s.now().UnixMicro(), false)
	if err != nil {
		return 0, 0, err
	}
	var count, newest int64
	err = s.r.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*), coalesce(max(date_added), 0) FROM objects WHERE %s`, where), args...).
		Scan(&count, &newest)
	return count, newest, interpretError(err)
}

// countFilter counts the latest versions a filter given as arguments shows,
// through the one membership predicate, reading at most ?12 rows. The filter
// is a one-row relation f with the columns of feeds.
const countFilter = `SELECT count(*) FROM (SELECT 1 FROM (SELECT ?1 AS types, ?2 AS exclude_types, ?3 AS tlp,
	?4 AS sources, ?5 AS created_by, ?6 AS min_confidence, ?7 AS labels, ?8 AS exclude_revoked,
	?9 AS exclude_expired, ?10 AS with_context, ?11 AS indexed) f CROSS JOIN objects o
	WHERE o.is_latest = 1 AND ` + memberPredicate + `
	AND NOT (f.exclude_expired AND o.valid_until IS NOT NULL AND o.valid_until <= ?13)
	LIMIT ?12)`

// CountFilter implements store.Feeds.
func (s *Store) CountFilter(ctx context.Context, filter store.FeedFilter, max int64) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	args, err := filterArgs(filter)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.r.QueryRowContext(ctx, countFilter, append(args, max, s.now().UnixMicro())...).Scan(&n)
	return n, interpretError(err)
}
