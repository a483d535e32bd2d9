package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
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
	export_format, export_template`
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
	ctx, cancel := s.bound(ctx)
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
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertFeed, args...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, rebuildMembers, id)
		return err
	})
	return interpretError(err)
}

// membershipOf gives the columns of feed ? that decide which versions it shows
// (expiry is checked at read time), as one value.
const membershipOf = `SELECT json_array(types, exclude_types, tlp, sources, created_by, min_confidence, labels,
	exclude_revoked, with_context, indexed) FROM feeds WHERE id = ?`

// UpdateFeed implements store.Feeds. Writers are serialised (one write
// connection), so the rebuilt index and ingest never interleave.
func (s *Store) UpdateFeed(ctx context.Context, f store.Feed) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	filter, err := filterArgs(f.Filter)
	if err != nil {
		return err
	}
	id := canonicalID(f.ID)
	args := append([]any{id, f.Title, f.Description, nullIfEmpty(f.Alias), f.Writable}, filter...)
	args = append(args, f.ExportFormat, f.ExportTemplate)
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		var before, after string
		if err := tx.QueryRowContext(ctx, membershipOf, id).Scan(&before); err != nil {
			return err
		}
		if err := oneRow(tx.ExecContext(ctx, updateFeed, args...)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, markChanged, s.now().UnixMicro()); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, membershipOf, id).Scan(&after); err != nil || after == before {
			return err // the same versions: the entries stay
		}
		if _, err := tx.ExecContext(ctx, deleteMembers, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, rebuildMembers, id)
		return err
	})
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
		&flt.ExcludeRevoked, &flt.ExcludeExpired, &flt.WithContext, &f.ExportFormat, &f.ExportTemplate); err != nil {
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
