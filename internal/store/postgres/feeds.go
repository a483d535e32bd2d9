package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/store"
)

const feedColumns = `id::text, title, description, coalesce(alias, ''), types, writable, created_at`

// selectFeed finds a feed by id ($1, a uuid or NULL) or alias ($2), through the
// primary key and the alias index; an id beats an alias that spells another feed's id.
const selectFeed = `SELECT ` + feedColumns + ` FROM feeds
	WHERE id = $1::uuid OR alias = $2 ORDER BY (id = $1::uuid) IS TRUE DESC LIMIT 1`

func scanFeed(row pgx.Row) (store.Feed, error) {
	var f store.Feed
	err := row.Scan(&f.ID, &f.Title, &f.Description, &f.Alias, &f.Filter.Types, &f.Writable, &f.CreatedAt)
	if len(f.Filter.Types) == 0 {
		f.Filter.Types = nil
	}
	return f, err
}

// CreateFeed implements store.Feeds.
func (s *Store) CreateFeed(ctx context.Context, f store.Feed) error {
	id, ok := store.CanonicalUUID(f.ID)
	if !ok {
		return fmt.Errorf("postgres: feed id %q is not a UUID", f.ID)
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = time.Now()
	}
	types := f.Filter.Types
	if types == nil {
		types = []string{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO feeds (id, title, description, alias, types, writable, created_at)
		VALUES ($1, $2, $3, nullif($4, ''), $5, $6, $7)`,
		id, f.Title, f.Description, f.Alias, types, f.Writable, f.CreatedAt)
	return interpretError(err)
}

// GetFeed implements store.Feeds: by id when idOrAlias is a UUID of a feed, else by alias.
// Both ways use an index: the id is compared as a uuid (NULL when idOrAlias is not one).
func (s *Store) GetFeed(ctx context.Context, idOrAlias string) (store.Feed, error) {
	var id *string
	if uid, ok := store.CanonicalUUID(idOrAlias); ok {
		id = &uid
	}
	f, err := scanFeed(s.pool.QueryRow(ctx, selectFeed, id, idOrAlias))
	return f, interpretError(err)
}

// ListFeeds implements store.Feeds.
func (s *Store) ListFeeds(ctx context.Context) ([]store.Feed, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+feedColumns+` FROM feeds ORDER BY created_at, id`)
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

// DeleteFeed implements store.Feeds.
func (s *Store) DeleteFeed(ctx context.Context, id string) error {
	uid, ok := store.CanonicalUUID(id)
	if !ok {
		return store.ErrNotFound
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM feeds WHERE id = $1::uuid`, uid)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
