package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/store"
)

const feedColumns = `id::text, title, description, coalesce(alias, ''), types, writable, created_at,
	exclude_types, tlp, sources, created_by, min_confidence, labels, exclude_revoked, exclude_expired, with_context,
	export_format, export_template, build_end IS NOT NULL`

// selectFeed finds a feed by id ($1, a uuid or NULL) or alias ($2), through the
// primary key and the alias index; an id beats an alias that spells another feed's id.
const selectFeed = `SELECT ` + feedColumns + ` FROM feeds
	WHERE id = $1::uuid OR alias = $2 ORDER BY (id = $1::uuid) IS TRUE DESC LIMIT 1`

func scanFeed(row pgx.Row) (store.Feed, error) {
	var f store.Feed
	var tlp []int16
	flt := &f.Filter
	err := row.Scan(&f.ID, &f.Title, &f.Description, &f.Alias, &flt.Types, &f.Writable, &f.CreatedAt,
		&flt.ExcludeTypes, &tlp, &flt.Sources, &flt.CreatedBy, &flt.MinConfidence, &flt.Labels,
		&flt.ExcludeRevoked, &flt.ExcludeExpired, &flt.WithContext, &f.ExportFormat, &f.ExportTemplate, &f.Building)
	for _, l := range tlp {
		flt.TLP = append(flt.TLP, store.TLP(l))
	}
	for _, l := range []*[]string{&flt.Types, &flt.ExcludeTypes, &flt.Sources, &flt.CreatedBy, &flt.Labels} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	flt.Index = f.ID
	return f, err
}

// nonNil keeps text[] columns NOT NULL.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func filterArgs(f store.FeedFilter) []any {
	tlp := make([]int16, len(f.TLP))
	for i, l := range f.TLP {
		tlp[i] = int16(l)
	}
	return []any{nonNil(f.Types), nonNil(f.ExcludeTypes), tlp, nonNil(f.Sources), nonNil(f.CreatedBy),
		f.MinConfidence, nonNil(f.Labels), f.ExcludeRevoked, f.ExcludeExpired, f.WithContext, f.Indexed()}
}

// lockWriters takes the store clock until commit, so that no AddObjects runs
// while a feed's membership index is rebuilt: every version is then entered
// under exactly one of the two filters.
const lockWriters = `SELECT 1 FROM store_clock WHERE one FOR UPDATE`

// markChanged dates a change that adds no version (store.ListState.Changed), taking
// the store clock until commit as lockWriters does.
const markChanged = `UPDATE store_clock SET changed_us = greatest(changed_us + 1, last_us + 1,
	(extract(epoch FROM clock_timestamp()) * 1000000)::bigint) WHERE one`

// CreateFeed implements store.Feeds.
func (s *Store) CreateFeed(ctx context.Context, f store.Feed) error {
	id, ok := store.CanonicalUUID(f.ID)
	if !ok {
		return fmt.Errorf("postgres: feed id %q is not a UUID", f.ID)
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = time.Now()
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockWriters); err != nil {
			return err
		}
		args := append([]any{id, f.Title, f.Description, f.Alias, f.Writable, f.CreatedAt}, filterArgs(f.Filter)...)
		args = append(args, f.ExportFormat, f.ExportTemplate)
		if _, err := tx.Exec(ctx, `INSERT INTO feeds (id, title, description, alias, writable, created_at,
			types, exclude_types, tlp, sources, created_by, min_confidence, labels, exclude_revoked, exclude_expired,
			with_context, indexed, export_format, export_template)
			VALUES ($1, $2, $3, nullif($4, ''), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`, args...); err != nil {
			return err
		}
		// After the feed's row: a taken id fails there, as a conflict.
		if err := createPartition(ctx, tx, id); err != nil {
			return err
		}
		return s.startBuild(ctx, tx, id)
	})
	if err == nil {
		err = s.buildFeed(ctx, id)
	}
	return interpretError(err)
}

// UpdateFeed implements store.Feeds.
func (s *Store) UpdateFeed(ctx context.Context, f store.Feed) error {
	id, ok := store.CanonicalUUID(f.ID)
	if !ok {
		return store.ErrNotFound
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, markChanged); err != nil {
			return err
		}
		args := append([]any{id, f.Title, f.Description, f.Alias, f.Writable}, filterArgs(f.Filter)...)
		args = append(args, f.ExportFormat, f.ExportTemplate)
		var refilter bool
		// old is the row before the update (the statement's snapshot); the
		// clock taken above serialises updates.
		err := tx.QueryRow(ctx, `UPDATE feeds SET title = $2, description = $3, alias = nullif($4, ''), writable = $5,
			types = $6, exclude_types = $7, tlp = $8, sources = $9, created_by = $10, min_confidence = $11,
			labels = $12, exclude_revoked = $13, exclude_expired = $14, with_context = $15, indexed = $16,
			export_format = $17, export_template = $18
			FROM (SELECT `+membershipColumns+` FROM feeds WHERE id = $1::uuid) old
			WHERE feeds.id = $1::uuid
			RETURNING ROW(`+qualified("old", membershipColumns)+`) IS DISTINCT FROM ROW(`+qualified("feeds", membershipColumns)+`)`, args...).
			Scan(&refilter)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil || !refilter {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM feed_members WHERE feed_id = $1::uuid`, id); err != nil {
			return err
		}
		return s.startBuild(ctx, tx, id)
	})
	if err == nil {
		err = s.buildFeed(ctx, id)
	}
	return interpretError(err)
}

// startBuild starts building the entries of feed id from the versions stored
// now (none for a feed without entries, which ends a build it was in), and
// takes steps for up to s.atOnce, so that on most stores the change commits
// whole: run under the writers' lock, with the feed's entries empty. Versions
// added later are entered by their writers (addMembers), those up to build_end
// by the steps.
func (s *Store) startBuild(ctx context.Context, tx pgx.Tx, id string) error {
	if _, err := tx.Exec(ctx, `UPDATE feeds SET build_next = CASE WHEN indexed THEN 0 END,
		build_end = CASE WHEN indexed THEN (SELECT last_us FROM store_clock WHERE one) END WHERE id = $1::uuid`, id); err != nil {
		return err
	}
	for start := time.Now(); ; {
		done, err := s.buildStep(ctx, tx, id)
		if err != nil || done || time.Since(start) >= s.atOnce {
			return err
		}
	}
}

// buildStep enters the next s.step versions of feed id's build (after build_next,
// up to build_end) into its entries, under the writers' lock already taken: so
// no version is added, deleted or has its flags changed meanwhile. It reports
// whether the build is complete, or there is none (the feed is gone, or built).
func (s *Store) buildStep(ctx context.Context, tx pgx.Tx, id string) (bool, error) {
	var next, end *int64
	err := tx.QueryRow(ctx, `SELECT build_next, build_end FROM feeds WHERE id = $1::uuid FOR UPDATE`, id).Scan(&next, &end)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (next == nil || end == nil)) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	var upTo int64
	if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT date_added FROM objects WHERE date_added > $1 AND date_added <= $2
		ORDER BY date_added OFFSET $3 LIMIT 1), $2)`, *next, *end, s.step-1).Scan(&upTo); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, buildMembers, id, *next, upTo); err != nil {
		return false, err
	}
	done := upTo >= *end
	if done {
		// Dated as a change, so that a blocklist read from a part of the
		// entries (begun as the build did) gets a new ETag.
		if _, err = tx.Exec(ctx, markChanged); err == nil {
			_, err = tx.Exec(ctx, `UPDATE feeds SET build_next = NULL, build_end = NULL WHERE id = $1::uuid`, id)
		}
	} else {
		_, err = tx.Exec(ctx, `UPDATE feeds SET build_next = $2 WHERE id = $1::uuid`, id, upTo)
	}
	return done, err
}

// buildFeed takes the steps left of feed id's build, each in a transaction of
// its own under the writers' lock, which they wait for no longer than a step.
func (s *Store) buildFeed(ctx context.Context, id string) error {
	for {
		var done bool
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, lockWriters); err != nil {
				return err
			}
			var err error
			done, err = s.buildStep(ctx, tx, id)
			return err
		})
		if err != nil || done {
			return err
		}
	}
}

// FinishFeedBuilds implements store.Feeds.
func (s *Store) FinishFeedBuilds(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT id::text FROM feeds WHERE build_end IS NOT NULL ORDER BY created_at`)
	if err != nil {
		return interpretError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return interpretError(err)
	}
	for _, id := range ids {
		if err := s.buildFeed(ctx, id); err != nil {
			return interpretError(err)
		}
	}
	return nil
}

// membershipColumns are the columns of feeds that decide which versions a feed
// shows (expiry is checked at read time): an update that changes none of them
// keeps the feed's entries.
const membershipColumns = `types, exclude_types, tlp, sources, created_by, min_confidence, labels, exclude_revoked,
	with_context, indexed`

// qualified prefixes each of the comma-separated columns with table.
func qualified(table, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// memberPartition names the partition of feed_members that holds the entries
// of feed id (a canonical UUID), as migration 0012 named those it created.
func memberPartition(id string) string {
	return "feed_members_" + strings.ReplaceAll(id, "-", "")
}

// createPartition creates the (empty) partition of feed id's entries. The table
// is created alone and then attached: CREATE TABLE ... PARTITION OF would lock
// feed_members against every reader and writer until commit, ATTACH PARTITION
// locks out only other DDL on it.
func createPartition(ctx context.Context, tx pgx.Tx, id string) error {
	name := pgx.Identifier{memberPartition(id)}.Sanitize()
	_, err := tx.Exec(ctx, `CREATE TABLE `+name+` (LIKE feed_members INCLUDING DEFAULTS INCLUDING STORAGE);
		ALTER TABLE feed_members ATTACH PARTITION `+name+` FOR VALUES IN ('`+id+`')`)
	return err
}

// GetFeed implements store.Feeds: by id when idOrAlias is a UUID of a feed, else by alias.
// Both ways use an index: the id is compared as a uuid (NULL when idOrAlias is not one).
func (s *Store) GetFeed(ctx context.Context, idOrAlias string) (store.Feed, error) {
	var id *string
	if uid, ok := store.CanonicalUUID(idOrAlias); ok {
		id = &uid
	}
	f, err := scanFeed(s.lookups.QueryRow(ctx, selectFeed, id, idOrAlias))
	return f, interpretError(err)
}

// ListFeeds implements store.Feeds.
func (s *Store) ListFeeds(ctx context.Context) ([]store.Feed, error) {
	rows, err := s.lookups.Query(ctx, `SELECT `+feedColumns+` FROM feeds ORDER BY created_at, id`)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.Feed
	for rows.Next() {
		f, err := scanFeed(rows)
		if err != nil {
			return nil, interpretError(err)
		}
		out = append(out, f)
	}
	return out, interpretError(rows.Err())
}

// DeleteFeed implements store.Feeds; its partition of entries goes with it.
// Dropping a partition locks feed_members until commit: the transaction waits
// for the pages being read from any feed's entries (milliseconds; a blocklist
// of a filtered feed, up to its full read), and holds the writers' clock first,
// as they take it, so that no writer can wait on it while holding feed_members.
func (s *Store) DeleteFeed(ctx context.Context, id string) error {
	uid, ok := store.CanonicalUUID(id)
	if !ok {
		return store.ErrNotFound
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, markChanged); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM feeds WHERE id = $1::uuid`, uid)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{memberPartition(uid)}.Sanitize())
		return err
	})
	return interpretError(err)
}
