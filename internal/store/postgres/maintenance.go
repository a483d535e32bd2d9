package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/store"
)

const (
	// purgeSelect picks the ids to remove: latest versions that match, with no version
	// added at or after the cutoff ($1).
	purgeSelect = `SELECT o.id FROM objects o WHERE o.is_latest AND NOT EXISTS
	(SELECT 1 FROM objects n WHERE n.id = o.id AND n.date_added >= $1)%s`
	purgeCount = `SELECT count(*) FROM objects WHERE id IN (%s)`
)

// PurgeObjects removes the selected objects in one transaction holding the store
// clock, so no writer commits a new version of a selected object meanwhile.
func (s *Store) PurgeObjects(ctx context.Context, p store.Purge) (store.PurgeResult, error) {
	if p.Before <= 0 {
		return store.PurgeResult{}, errors.New("postgres: purge needs a cutoff")
	}
	args := []any{p.Before}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	extra := ""
	if len(p.Feed.Types) > 0 {
		extra += " AND o.type = ANY(" + arg(p.Feed.Types) + "::text[])"
	}
	if p.Revoked {
		extra += ` AND convert_from(o.raw, 'UTF8')::jsonb -> 'revoked' = 'true'::jsonb`
	}
	if p.ExpiredBefore != "" {
		extra += ` AND convert_from(o.raw, 'UTF8')::jsonb ->> 'valid_until' < ` + arg(p.ExpiredBefore)
	}
	sel := fmt.Sprintf(purgeSelect, extra)
	var res store.PurgeResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, markChanged); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM ("+sel+") doomed", args...).Scan(&res.Objects); err != nil {
			return err
		}
		if p.DryRun || res.Objects == 0 {
			return tx.QueryRow(ctx, fmt.Sprintf(purgeCount, sel), args...).Scan(&res.Versions)
		}
		return tx.QueryRow(ctx, fmt.Sprintf(deleteObjects, "id IN ("+sel+")"), args...).Scan(&res.Versions)
	})
	return res, interpretError(err)
}
