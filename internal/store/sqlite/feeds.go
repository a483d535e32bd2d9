package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

const (
	insertFeed = `
INSERT INTO feeds (id, title, description, alias, writable, created_at,
	types, exclude_types, tlp, sources, created_by, min_confidence, labels, exclude_revoked, exclude_expired,
	with_context, indexed, export_format, export_template)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	updateFeed = `
UPDATE feeds SET title = ?2, description = ?3, alias = ?4, writable = ?5,
	types = ?6, exclude_types = ?7, tlp = ?8, sources = ?9, created_by = ?10, min_confidence = ?11, labels = ?12,
	exclude_revoked = ?13, exclude_expired = ?14, with_context = ?15, indexed = ?16,
	export_format = ?17, export_template = ?18
WHERE id = ?1`
	feedColumns = `id, title, description, coalesce(alias, ''), types, writable, created_at,
	exclude_types, tlp, sources, created_by, min_confidence, labels, exclude_revoked, exclude_expired, with_context,
	export_format, export_template, build_end IS NOT NULL`
	// An id beats an alias that happens to spell another feed's id.
	selectFeed  = `SELECT ` + feedColumns + ` FROM feeds WHERE id = ?1 OR alias = ?2 ORDER BY id = ?1 DESC LIMIT 1`
	selectFeeds = `SELECT ` + feedColumns + ` FROM feeds ORDER BY created_at, id`
	deleteFeed  = `DELETE FROM feeds WHERE id = ?`
)

// filterArgs are the filter columns of f, in the order of insertFeed and updateFeed.
func filterArgs(f store.FeedFilter) ([]any, error) {
	tlp := make([]int, len(f.TLP))
	for i, l := range f.TLP {
		tlp[i] = int(l)
	}
	out := []any{}
	for _, l := range []any{f.Types, f.ExcludeTypes, tlp, f.Sources, f.CreatedBy} {
		b, err := json.Marshal(l)
		if err != nil {
			return nil, err
		}
		if string(b) == "null" {
			b = []byte("[]")
		}
		out = append(out, string(b))
	}
	labels, err := jsonList(f.Labels)
	if err != nil {
		return nil, err
	}
	return append(out, f.MinConfidence, labels, f.ExcludeRevoked, f.ExcludeExpired, f.WithContext, f.Indexed()), nil
}

// CreateFeed stores f and fills its membership index; a zero CreatedAt becomes
// now. ErrConflict when the id or alias exists.
func (s *Store) CreateFeed(ctx context.Context, f store.Feed) error {
	if canonicalID(f.ID) == "" {
		return fmt.Errorf("sqlite: feed id %q is not a UUID", f.ID)
	}
	first, cancel := s.bound(ctx) // the steps after the first have their own
	defer cancel()
	filter, err := filterArgs(f.Filter)
	if err != nil {
		return err
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = s.now()
	}
	id := canonicalID(f.ID)
	args := append([]any{id, f.Title, f.Description, nullIfEmpty(f.Alias), f.Writable, f.CreatedAt.UnixMicro()}, filter...)
	args = append(args, f.ExportFormat, f.ExportTemplate)
	err = s.writeTx(first, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(first, insertFeed, args...); err != nil {
			return err
		}
		return s.startBuild(first, tx, id)
	})
	if err == nil {
		err = s.buildFeed(ctx, id)
	}
	return interpretError(err)
}

// membershipOf gives the columns of feed ? that decide which versions it shows
// (expiry is checked at read time), as one value.
const membershipOf = `SELECT json_array(types, exclude_types, tlp, sources, created_by, min_confidence, labels,
	exclude_revoked, with_context, indexed) FROM feeds WHERE id = ?`

// UpdateFeed implements store.Feeds. Writers are serialised (one write
// connection), so the rebuilt index and ingest never interleave.
func (s *Store) UpdateFeed(ctx context.Context, f store.Feed) error {
	first, cancel := s.bound(ctx) // the steps after the first have their own
	defer cancel()
	filter, err := filterArgs(f.Filter)
	if err != nil {
		return err
	}
	id := canonicalID(f.ID)
	args := append([]any{id, f.Title, f.Description, nullIfEmpty(f.Alias), f.Writable}, filter...)
	args = append(args, f.ExportFormat, f.ExportTemplate)
	err = s.writeTx(first, func(tx *sql.Tx) error {
		var before, after string
		if err := tx.QueryRowContext(first, membershipOf, id).Scan(&before); err != nil {
			return err
		}
		if err := oneRow(tx.ExecContext(first, updateFeed, args...)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(first, markChanged, s.now().UnixMicro()); err != nil {
			return err
		}
		if err := tx.QueryRowContext(first, membershipOf, id).Scan(&after); err != nil || after == before {
			return err // the same versions: the entries stay
		}
		if _, err := tx.ExecContext(first, deleteMembers, id); err != nil {
			return err
		}
		return s.startBuild(first, tx, id)
	})
	if err == nil {
		err = s.buildFeed(ctx, id)
	}
	return interpretError(err)
}

// startBuild starts building the entries of feed id from the versions stored
// now (none for a feed without entries, which ends a build it was in), and
// takes steps for up to store.Limits.BuildAtOnce, so that on most stores the
// change commits whole: in the write transaction tx, with the feed's entries
// empty. Versions added later are entered by their writers, those up to
// build_end by the steps.
func (s *Store) startBuild(ctx context.Context, tx *sql.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE feeds SET build_next = CASE WHEN indexed THEN 0 END,
		build_end = CASE WHEN indexed THEN (SELECT last FROM clock WHERE id = 1) END WHERE id = ?`, id); err != nil {
		return err
	}
	for start := time.Now(); ; {
		done, err := s.buildStep(ctx, tx, id)
		if err != nil || done || time.Since(start) >= s.lim.BuildAtOnce() {
			return err
		}
	}
}

// buildStep enters the next versions of feed id's build (after build_next, up
// to build_end, at most store.Limits.BuildStep of them) into its entries, in
// the write transaction tx: no version is added, deleted or has its flags
// changed meanwhile. It reports whether the build is complete, or there is
// none (the feed is gone, or built).
func (s *Store) buildStep(ctx context.Context, tx *sql.Tx, id string) (bool, error) {
	var next, end sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT build_next, build_end FROM feeds WHERE id = ?`, id).Scan(&next, &end)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (!next.Valid || !end.Valid)) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	var upTo int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT date_added FROM objects WHERE date_added > ?1 AND date_added <= ?2
		ORDER BY date_added LIMIT 1 OFFSET ?3), ?2)`, next.Int64, end.Int64, s.lim.BuildStep()-1).Scan(&upTo); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, buildMembers, id, next.Int64, upTo); err != nil {
		return false, err
	}
	done := upTo >= end.Int64
	if done {
		// Dated as a change, so that a blocklist read from a part of the
		// entries (begun as the build did) gets a new ETag.
		if _, err = tx.ExecContext(ctx, markChanged, s.now().UnixMicro()); err == nil {
			_, err = tx.ExecContext(ctx, `UPDATE feeds SET build_next = NULL, build_end = NULL WHERE id = ?`, id)
		}
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE feeds SET build_next = ? WHERE id = ?`, upTo, id)
	}
	return done, err
}

// buildFeed takes the steps left of feed id's build, each a write transaction
// of its own (and its own statement timeout), so writers wait no longer than a step.
func (s *Store) buildFeed(ctx context.Context, id string) error {
	for {
		var done bool
		step, cancel := s.bound(ctx)
		err := s.writeTx(step, func(tx *sql.Tx) error {
			var err error
			done, err = s.buildStep(step, tx, id)
			return err
		})
		cancel()
		if err != nil || done {
			return err
		}
	}
}

// FinishFeedBuilds implements store.Feeds.
func (s *Store) FinishFeedBuilds(ctx context.Context) error {
	var ids []string
	err := func() error {
		ctx, cancel := s.bound(ctx)
		defer cancel()
		rows, err := s.r.QueryContext(ctx, `SELECT id FROM feeds WHERE build_end IS NOT NULL ORDER BY created_at`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	}()
	for _, id := range ids {
		if err != nil {
			break
		}
		err = s.buildFeed(ctx, id)
	}
	return interpretError(err)
}

// GetFeed finds a feed by id or alias. ErrNotFound when none.
func (s *Store) GetFeed(ctx context.Context, idOrAlias string) (store.Feed, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	f, err := scanFeed(s.lookups.QueryRowContext(ctx, selectFeed, canonicalID(idOrAlias), idOrAlias))
	return f, interpretError(err)
}

// ListFeeds returns all feeds ordered by creation time, then id.
func (s *Store) ListFeeds(ctx context.Context) ([]store.Feed, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.lookups.QueryContext(ctx, selectFeeds)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var feeds []store.Feed
	for rows.Next() {
		f, err := scanFeed(rows)
		if err != nil {
			return nil, interpretError(err)
		}
		feeds = append(feeds, f)
	}
	return feeds, interpretError(rows.Err())
}

// DeleteFeed removes a feed, not its objects; its membership index goes with it
// (ON DELETE CASCADE). ErrNotFound when none.
func (s *Store) DeleteFeed(ctx context.Context, id string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, deleteFeed, canonicalID(id))
	return interpretError(oneRow(res, err))
}

func scanFeed(row interface{ Scan(...any) error }) (store.Feed, error) {
	var f store.Feed
	var types, exclude, tlp, sources, createdBy, labels string
	var created int64
	flt := &f.Filter
	if err := row.Scan(&f.ID, &f.Title, &f.Description, &f.Alias, &types, &f.Writable, &created,
		&exclude, &tlp, &sources, &createdBy, &flt.MinConfidence, &labels,
		&flt.ExcludeRevoked, &flt.ExcludeExpired, &flt.WithContext, &f.ExportFormat, &f.ExportTemplate, &f.Building); err != nil {
		return store.Feed{}, err
	}
	for _, l := range []struct {
		text string
		into any
	}{{types, &flt.Types}, {exclude, &flt.ExcludeTypes}, {tlp, &flt.TLP}, {sources, &flt.Sources},
		{createdBy, &flt.CreatedBy}, {labels, &flt.Labels}} {
		if l.text == "[]" {
			continue
		}
		if err := json.Unmarshal([]byte(l.text), l.into); err != nil {
			return store.Feed{}, err
		}
	}
	f.CreatedAt = fromMicros(created)
	flt.Index = f.ID
	return f, nil
}

// oneRow turns "no row affected" into sql.ErrNoRows.
func oneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return sql.ErrNoRows
	}
	return nil
}

// jsonList encodes a list as a JSON array, never null.
func jsonList[T any](list []T) (string, error) {
	if list == nil {
		list = []T{}
	}
	b, err := json.Marshal(list)
	return string(b), err
}

// canonicalID is how feed, key and status ids (UUIDs) are stored and looked up:
// lower case, as Postgres's uuid type shows them, so either case finds them.
// It is "", which no stored id equals, when id is not a UUID.
func canonicalID(id string) string {
	u, _ := store.CanonicalUUID(id)
	return u
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros stores a zero time as NULL.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromNullMicros reads NULL as the zero time.
func fromNullMicros(us sql.NullInt64) time.Time {
	if !us.Valid {
		return time.Time{}
	}
	return fromMicros(us.Int64)
}
