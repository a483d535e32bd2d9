package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/store"
)

const feedColumns = `id::text, title, description, coalesce(alias, ''), types, writable, created_at`

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
	if f.CreatedAt.IsZero() {
		f.CreatedAt = time.Now()
	}
	types := f.Filter.Types
	if types == nil {
		types = []string{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO feeds (id, title, description, alias, types, writable, created_at)
		VALUES ($1, $2, $3, nullif($4, ''), $5, $6, $7)`,
		f.ID, f.Title, f.Description, f.Alias, types, f.Writable, f.CreatedAt)
	return interpretError(err)
}

// GetFeed implements store.Feeds: by id when idOrAlias is a UUID of a feed, else by alias.
func (s *Store) GetFeed(ctx context.Context, idOrAlias string) (store.Feed, error) {
	f, err := scanFeed(s.lookups.QueryRow(ctx, `SELECT `+feedColumns+` FROM feeds
		WHERE id::text = lower($1) OR alias = $1 ORDER BY (id::text = lower($1)) DESC LIMIT 1`, idOrAlias))
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

// DeleteFeed implements store.Feeds.
func (s *Store) DeleteFeed(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM feeds WHERE id::text = lower($1)`, id)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
