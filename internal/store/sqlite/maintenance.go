package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/inthreat/taxii-server/internal/store"
)

const (
	// purgeSelect picks the ids to remove: latest versions that match, with no version
	// added at or after the cutoff (the first argument).
	purgeSelect = `SELECT o.id FROM objects o WHERE o.is_latest = 1 AND NOT EXISTS
	(SELECT 1 FROM objects n WHERE n.id = o.id AND n.date_added >= ?)%s`
	purgeCount  = `SELECT count(*) FROM objects WHERE id IN (%s)`
	purgeDelete = `DELETE FROM objects WHERE id IN (%s)`
)

// Analyze implements store.Maintenance. SQLite's plans are chosen without
// statistics (this store never gathers any), which its queries are written
// for: gathering them could change plans, so there is nothing to refresh.
func (s *Store) Analyze(context.Context) error { return nil }

// PurgeObjects removes the selected objects in one write transaction (writers are serialised).
func (s *Store) PurgeObjects(ctx context.Context, p store.Purge) (store.PurgeResult, error) {
	if p.Before <= 0 {
		return store.PurgeResult{}, errors.New("sqlite: purge needs a cutoff")
	}
	extra, args, err := typeCondition(p.Feed, "o.type")
	if err != nil {
		return store.PurgeResult{}, err
	}
	if extra != "" {
		extra = " AND " + extra
	}
	if p.Revoked {
		extra += ` AND json_extract(CAST(o.raw AS TEXT), '$.revoked') = 1`
	}
	if p.ExpiredBefore != "" {
		extra += ` AND json_extract(CAST(o.raw AS TEXT), '$.valid_until') < ?`
		args = append(args, p.ExpiredBefore)
	}
	sel := fmt.Sprintf(purgeSelect, extra)
	args = append([]any{p.Before}, args...)
	var res store.PurgeResult
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ("+sel+")", args...).Scan(&res.Objects); err != nil {
			return err
		}
		if p.DryRun || res.Objects == 0 {
			return tx.QueryRowContext(ctx, fmt.Sprintf(purgeCount, sel), args...).Scan(&res.Versions)
		}
		if _, err := tx.ExecContext(ctx, markChanged, s.now().UnixMicro()); err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, fmt.Sprintf(purgeDelete, sel), args...)
		if err != nil {
			return err
		}
		res.Versions, err = r.RowsAffected()
		return err
	})
	return res, interpretError(err)
}

// typeCondition restricts col to the feed's types; "" when the feed shows every type.
func typeCondition(f store.FeedFilter, col string) (string, []any, error) {
	if len(f.Types) == 0 {
		return "", nil, nil
	}
	b, err := json.Marshal(f.Types)
	if err != nil {
		return "", nil, err
	}
	return col + ` IN (SELECT value FROM json_each(?))`, []any{string(b)}, nil
}

// Backup writes a consistent copy of the database to path (VACUUM INTO) while the
// store stays online; path must not exist yet.
func (s *Store) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("sqlite: backup: %s already exists", path)
	}
	if strings.ContainsRune(path, 0) {
		return errors.New("sqlite: backup: invalid path")
	}
	// A reader connection: the copy is one read transaction, writers carry on (WAL).
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return interpretError(err)
	}
	defer conn.Close()
	// VACUUM INTO writes another file, which query_only forbids on this connection for the statement's length.
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		return interpretError(err)
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA query_only = 1`) }()
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", path, interpretError(err))
	}
	return nil
}
