package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/inthreat/taxii-server/internal/store"
)

func TestInterpretError(t *testing.T) {
	if interpretError(nil) != nil {
		t.Error("nil -> not nil")
	}
	if got := interpretError(fmt.Errorf("scan: %w", pgx.ErrNoRows)); !errors.Is(got, store.ErrNotFound) {
		t.Errorf("no rows -> %v, want ErrNotFound", got)
	}
	unique := &pgconn.PgError{Code: "23505", ConstraintName: "feeds_alias_key", Message: "duplicate key"}
	if got := interpretError(unique); !errors.Is(got, store.ErrConflict) {
		t.Errorf("unique violation -> %v, want ErrConflict", got)
	}
	// A failed cast is a bug, not a missing row: it must not read as a 404.
	cast := &pgconn.PgError{Code: "22P02", Message: `invalid input syntax for type uuid: "x"`}
	got := interpretError(cast)
	if got == nil || errors.Is(got, store.ErrNotFound) || errors.Is(got, store.ErrConflict) {
		t.Errorf("invalid_text_representation -> %v, want a plain error", got)
	}
	// A store error returned from inside a transaction stays what it is.
	if got := interpretError(fmt.Errorf("object 3: %w", store.ErrConflict)); !errors.Is(got, store.ErrConflict) {
		t.Errorf("wrapped ErrConflict -> %v", got)
	}
	if got := interpretError(fmt.Errorf("tx: %w", context.Canceled)); !errors.Is(got, context.Canceled) {
		t.Errorf("cancellation -> %v, want context.Canceled kept", got)
	}
	var pgErr *pgconn.PgError
	if errors.As(got, &pgErr) {
		t.Errorf("%v still exposes the driver error", got)
	}
	var de *store.DatabaseError
	if !errors.As(got, &de) || !errors.As(de.Cause(), &pgErr) || pgErr.Code != "22P02" {
		t.Errorf("%v lost its cause", got)
	}
}
