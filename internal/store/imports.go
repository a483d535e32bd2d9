package store

import (
	"context"
	"encoding/json"
	"time"
)

// Import job states.
const (
	ImportRunning = "running"
	ImportDone    = "done"
	ImportFailed  = "failed" // the input could not be read to its end, or the store failed
)

// ImportJob is one import through the admin API or console, stored so that any
// replica can show it while it runs and after.
type ImportJob struct {
	ID         string // UUID
	Source     string // recorded on every stored version
	Collection string // feed id whose filter the import applied; "": none
	KeyID      string // the admin key that started it; "" for the CLI
	KeyName    string
	State      string // ImportRunning, ImportDone or ImportFailed
	Error      string // why it failed
	Bytes      int64  // input read so far
	// Counts, as ingest.Tally has them; OldSTIX of Rejected are STIX 2.0.
	Imported, Unchanged, Conflicting, Rejected, OldSTIX int64
	// Lines list rejected and conflicting objects (bounded by the writer);
	// Unlisted counts those past the bound.
	Lines      []string
	Unlisted   int64
	CreatedAt  time.Time
	UpdatedAt  time.Time // a running job is updated about every second
	FinishedAt time.Time // zero while running
}

// ImportJobs stores import jobs.
type ImportJobs interface {
	// CreateImportJob stores j. ErrConflict when the id exists.
	CreateImportJob(ctx context.Context, j ImportJob) error
	// UpdateImportJob replaces the state, error, counts, lines and times of the
	// stored job j.ID. ErrNotFound when none.
	UpdateImportJob(ctx context.Context, j ImportJob) error
	// GetImportJob returns a job by id. ErrNotFound when none.
	GetImportJob(ctx context.Context, id string) (ImportJob, error)
	// ListImportJobs returns up to limit jobs, newest first.
	ListImportJobs(ctx context.Context, limit int) ([]ImportJob, error)
	// DeleteImportJobs removes the jobs last updated before before, and returns how many.
	DeleteImportJobs(ctx context.Context, before time.Time) (int, error)
}

// DecodeLines reads a JSON list of strings stored by JSONList; nil when empty or unreadable.
func DecodeLines(s string) []string {
	var out []string
	_ = json.Unmarshal([]byte(s), &out)
	return out
}
