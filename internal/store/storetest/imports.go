package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/inthreat/taxii-server/internal/store"
)

// exerciseImportJobs: a job reads back as written, its updates replace counts,
// lines and state, lists are newest first, and retention removes by last update.
func exerciseImportJobs(t *testing.T, setup setupFunc) {
	s, ctx := setup(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	j := store.ImportJob{ID: uuid.NewString(), Source: "upload", Collection: "feed-1", KeyID: "k1", KeyName: "ops",
		State: store.ImportRunning, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateImportJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateImportJob(ctx, j); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the same id again: %v, want ErrConflict", err)
	}
	got, err := s.GetImportJob(ctx, j.ID)
	if err != nil || got.Source != "upload" || got.Collection != "feed-1" || got.KeyName != "ops" || got.State != store.ImportRunning ||
		!got.CreatedAt.Equal(t0) || !got.FinishedAt.IsZero() || len(got.Lines) != 0 {
		t.Fatalf("GetImportJob = %+v, %v", got, err)
	}

	j.State, j.Error, j.Bytes = store.ImportFailed, "broken", 1234
	j.Imported, j.Unchanged, j.Conflicting, j.Rejected, j.OldSTIX, j.Unlisted = 5, 4, 3, 2, 1, 7
	j.Lines = []string{"rejected upload: object 2 x: why", `conflicting upload: object 3 "y"`}
	j.UpdatedAt, j.FinishedAt = t0.Add(time.Minute), t0.Add(time.Minute)
	if err := s.UpdateImportJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetImportJob(ctx, j.ID)
	if err != nil || got.State != store.ImportFailed || got.Error != "broken" || got.Bytes != 1234 ||
		got.Imported != 5 || got.Unchanged != 4 || got.Conflicting != 3 || got.Rejected != 2 || got.OldSTIX != 1 || got.Unlisted != 7 ||
		!slices.Equal(got.Lines, j.Lines) || !got.FinishedAt.Equal(j.FinishedAt) || !got.UpdatedAt.Equal(j.UpdatedAt) {
		t.Fatalf("after update %+v, %v", got, err)
	}

	later := store.ImportJob{ID: uuid.NewString(), Source: "import", State: store.ImportRunning, CreatedAt: t0.Add(time.Hour), UpdatedAt: t0.Add(time.Hour)}
	if err := s.CreateImportJob(ctx, later); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListImportJobs(ctx, 10)
	if err != nil || len(list) != 2 || list[0].ID != later.ID || list[1].ID != j.ID {
		t.Fatalf("ListImportJobs = %+v, %v; want newest first", list, err)
	}
	if list, _ := s.ListImportJobs(ctx, 1); len(list) != 1 {
		t.Errorf("limit 1 listed %d", len(list))
	}
	if n, err := s.DeleteImportJobs(ctx, t0.Add(30*time.Minute)); err != nil || n != 1 {
		t.Fatalf("DeleteImportJobs = %d, %v; want the job last updated before", n, err)
	}
	if _, err := s.GetImportJob(ctx, j.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted job: %v", err)
	}
	if _, err := s.GetImportJob(ctx, "not-a-uuid"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("malformed id: %v", err)
	}
	if err := s.UpdateImportJob(ctx, j); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of a deleted job: %v", err)
	}
}
