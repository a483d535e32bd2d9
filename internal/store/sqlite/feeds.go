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
INSERT INTO feeds (id, title, description, alias, types, writable, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`
	feedColumns = `id, title, description, coalesce(alias, ''), types, writable, created_at`
	// An id beats an alias that happens to spell another feed's id.
	selectFeed  = `SELECT ` + feedColumns + ` FROM feeds WHERE id = ?1 OR alias = ?2 ORDER BY id = ?1 DESC LIMIT 1`
	selectFeeds = `SELECT ` + feedColumns + ` FROM feeds ORDER BY created_at, id`
	deleteFeed  = `DELETE FROM feeds WHERE id = ?`
)

// CreateFeed stores f; a zero CreatedAt becomes now. ErrConflict when the id or alias exists.
func (s *Store) CreateFeed(ctx context.Context, f store.Feed) error {
	if canonicalID(f.ID) == "" {
		return fmt.Errorf("sqlite: feed id %q is not a UUID", f.ID)
	}
	types, err := jsonList(f.Filter.Types)
	if err != nil {
		return err
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = s.now()
	}
	_, err = s.w.ExecContext(ctx, insertFeed, canonicalID(f.ID), f.Title, f.Description, nullIfEmpty(f.Alias),
		types, f.Writable, f.CreatedAt.UnixMicro())
	return interpretError(err)
}

// GetFeed finds a feed by id or alias. ErrNotFound when none.
func (s *Store) GetFeed(ctx context.Context, idOrAlias string) (store.Feed, error) {
	f, err := scanFeed(s.r.QueryRowContext(ctx, selectFeed, canonicalID(idOrAlias), idOrAlias))
	return f, interpretError(err)
}

// ListFeeds returns all feeds ordered by creation time, then id.
func (s *Store) ListFeeds(ctx context.Context) ([]store.Feed, error) {
	rows, err := s.r.QueryContext(ctx, selectFeeds)
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

// DeleteFeed removes a feed, not its objects. ErrNotFound when none.
func (s *Store) DeleteFeed(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, deleteFeed, canonicalID(id))
	return interpretError(oneRow(res, err))
}

func scanFeed(row interface{ Scan(...any) error }) (store.Feed, error) {
	var f store.Feed
	var types string
	var created int64
	if err := row.Scan(&f.ID, &f.Title, &f.Description, &f.Alias, &types, &f.Writable, &created); err != nil {
		return store.Feed{}, err
	}
	if err := json.Unmarshal([]byte(types), &f.Filter.Types); err != nil {
		return store.Feed{}, err
	}
	f.CreatedAt = fromMicros(created)
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
