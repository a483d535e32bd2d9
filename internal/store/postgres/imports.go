package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inthreat/taxii-server/internal/store"
)

const (
	importJobColumns = `id::text, source, collection, key_id, key_name, state, error, bytes,
	imported, unchanged, conflicting, rejected, old_stix, lines::text, unlisted, created_at, updated_at, finished_at`
	insertImportJob = `INSERT INTO import_jobs (id, source, collection, key_id, key_name, state, error, bytes,
	imported, unchanged, conflicting, rejected, old_stix, lines, unlisted, created_at, updated_at, finished_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15, $16, $17, $18)`
	updateImportJob = `UPDATE import_jobs SET state = $2, error = $3, bytes = $4,
	imported = $5, unchanged = $6, conflicting = $7, rejected = $8, old_stix = $9, lines = $10::jsonb, unlisted = $11,
	updated_at = $12, finished_at = $13
	WHERE id = $1`
	selectImportJob  = `SELECT ` + importJobColumns + ` FROM import_jobs WHERE id = $1`
	listImportJobs   = `SELECT ` + importJobColumns + ` FROM import_jobs ORDER BY created_at DESC, id LIMIT $1`
	deleteImportJobs = `DELETE FROM import_jobs WHERE updated_at < $1`
)

// importJobArgs are j's columns in insert order; ok is false when its id is not a UUID.
func importJobArgs(j store.ImportJob) ([]any, bool) {
	id, ok := store.CanonicalUUID(j.ID)
	return []any{id, j.Source, j.Collection, j.KeyID, j.KeyName, j.State, j.Error, j.Bytes,
		j.Imported, j.Unchanged, j.Conflicting, j.Rejected, j.OldSTIX, store.JSONList(j.Lines), j.Unlisted,
		store.MicrosOrZero(j.CreatedAt), store.MicrosOrZero(j.UpdatedAt), store.MicrosOrZero(j.FinishedAt)}, ok
}

func scanImportJob(row pgx.Row) (store.ImportJob, error) {
	var j store.ImportJob
	var lines string
	var created, updated, finished int64
	err := row.Scan(&j.ID, &j.Source, &j.Collection, &j.KeyID, &j.KeyName, &j.State, &j.Error, &j.Bytes,
		&j.Imported, &j.Unchanged, &j.Conflicting, &j.Rejected, &j.OldSTIX, &lines, &j.Unlisted, &created, &updated, &finished)
	j.Lines = store.DecodeLines(lines)
	j.CreatedAt, j.UpdatedAt, j.FinishedAt = store.TimeOrZero(created), store.TimeOrZero(updated), store.TimeOrZero(finished)
	return j, err
}

// CreateImportJob implements store.ImportJobs.
func (s *Store) CreateImportJob(ctx context.Context, j store.ImportJob) error {
	args, ok := importJobArgs(j)
	if !ok {
		return fmt.Errorf("postgres: import job id %q is not a UUID", j.ID)
	}
	_, err := s.pool.Exec(ctx, insertImportJob, args...)
	return interpretError(err)
}

// UpdateImportJob implements store.ImportJobs.
func (s *Store) UpdateImportJob(ctx context.Context, j store.ImportJob) error {
	args, ok := importJobArgs(j)
	if !ok {
		return store.ErrNotFound
	}
	// The columns an update writes: id, then state to unlisted, then the times but created_at.
	args = append(append(args[:1:1], args[5:15]...), args[16:]...)
	tag, err := s.pool.Exec(ctx, updateImportJob, args...)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// GetImportJob implements store.ImportJobs.
func (s *Store) GetImportJob(ctx context.Context, id string) (store.ImportJob, error) {
	uid, ok := store.CanonicalUUID(id)
	if !ok {
		return store.ImportJob{}, store.ErrNotFound
	}
	j, err := scanImportJob(s.pool.QueryRow(ctx, selectImportJob, uid))
	return j, interpretError(err)
}

// ListImportJobs implements store.ImportJobs.
func (s *Store) ListImportJobs(ctx context.Context, limit int) ([]store.ImportJob, error) {
	rows, err := s.pool.Query(ctx, listImportJobs, limit)
	if err != nil {
		return nil, interpretError(err)
	}
	defer rows.Close()
	var out []store.ImportJob
	for rows.Next() {
		j, err := scanImportJob(rows)
		if err != nil {
			return nil, interpretError(err)
		}
		out = append(out, j)
	}
	return out, interpretError(rows.Err())
}

// DeleteImportJobs implements store.ImportJobs.
func (s *Store) DeleteImportJobs(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, deleteImportJobs, before.UnixMicro())
	if err != nil {
		return 0, interpretError(err)
	}
	return int(tag.RowsAffected()), nil
}

var _ store.ImportJobs = (*Store)(nil)
