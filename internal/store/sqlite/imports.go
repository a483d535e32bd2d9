package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/inthreat/taxii-server/internal/store"
)

const (
	importJobColumns = `id, source, collection, key_id, key_name, state, error, bytes,
	imported, unchanged, conflicting, rejected, old_stix, lines, unlisted, created_at, updated_at, finished_at`
	insertImportJob = `INSERT INTO import_jobs (` + importJobColumns + `)
	VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)`
	updateImportJob = `UPDATE import_jobs SET state = ?6, error = ?7, bytes = ?8,
	imported = ?9, unchanged = ?10, conflicting = ?11, rejected = ?12, old_stix = ?13, lines = ?14, unlisted = ?15,
	updated_at = ?17, finished_at = ?18
	WHERE id = ?1`
	selectImportJob  = `SELECT ` + importJobColumns + ` FROM import_jobs WHERE id = ?`
	listImportJobs   = `SELECT ` + importJobColumns + ` FROM import_jobs ORDER BY created_at DESC, id LIMIT ?`
	deleteImportJobs = `DELETE FROM import_jobs WHERE updated_at < ?`
)

// importJobArgs are j's columns in insert order; ok is false when its id is not a UUID.
func importJobArgs(j store.ImportJob) ([]any, bool) {
	id, ok := store.CanonicalUUID(j.ID)
	return []any{id, j.Source, j.Collection, j.KeyID, j.KeyName, j.State, j.Error, j.Bytes,
		j.Imported, j.Unchanged, j.Conflicting, j.Rejected, j.OldSTIX, store.JSONList(j.Lines), j.Unlisted,
		store.MicrosOrZero(j.CreatedAt), store.MicrosOrZero(j.UpdatedAt), store.MicrosOrZero(j.FinishedAt)}, ok
}

func scanImportJob(row rowScanner) (store.ImportJob, error) {
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
		return fmt.Errorf("sqlite: import job id %q is not a UUID", j.ID)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.w.ExecContext(ctx, insertImportJob, args...)
	return interpretError(err)
}

// UpdateImportJob implements store.ImportJobs.
func (s *Store) UpdateImportJob(ctx context.Context, j store.ImportJob) error {
	args, ok := importJobArgs(j)
	if !ok {
		return store.ErrNotFound
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, updateImportJob, args...)
	if err != nil {
		return interpretError(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return interpretError(err)
		}
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
	ctx, cancel := s.bound(ctx)
	defer cancel()
	j, err := scanImportJob(s.r.QueryRowContext(ctx, selectImportJob, uid))
	return j, interpretError(err)
}

// ListImportJobs implements store.ImportJobs.
func (s *Store) ListImportJobs(ctx context.Context, limit int) ([]store.ImportJob, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, listImportJobs, limit)
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
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.w.ExecContext(ctx, deleteImportJobs, before.UnixMicro())
	if err != nil {
		return 0, interpretError(err)
	}
	n, err := res.RowsAffected()
	return int(n), interpretError(err)
}

var _ store.ImportJobs = (*Store)(nil)
