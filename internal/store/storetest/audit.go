package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
)

func exerciseRotateKey(t *testing.T, setup setupFunc) {
	s, ctx := setup(t)
	const id = "5b1f6a7e-0c2d-4e3f-9a8b-7c6d5e4f3a21"
	oldHash, newHash, newer := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	if err := s.CreateKey(ctx, store.APIKey{ID: id, Name: "rot", Role: store.RoleReadOnly, Feeds: []string{"f"}, Hash: oldHash, CreatedAt: at(1)}); err != nil {
		t.Fatal(err)
	}
	if k, err := s.GetKey(ctx, id); err != nil || k.PrevHash != nil || !k.PrevValidUntil.IsZero() {
		t.Fatalf("new key: prev %x until %v, %v; want none", k.PrevHash, k.PrevValidUntil, err)
	}
	if err := s.RotateKey(ctx, id, newHash, at(30)); err != nil {
		t.Fatal(err)
	}
	k, err := s.GetKey(ctx, id)
	if err != nil || !bytes.Equal(k.Hash, newHash) || !bytes.Equal(k.PrevHash, oldHash) || !k.PrevValidUntil.Equal(at(30)) {
		t.Fatalf("rotated: hash %x prev %x until %v, %v", k.Hash, k.PrevHash, k.PrevValidUntil, err)
	}
	if k.Name != "rot" || k.Role != store.RoleReadOnly || len(k.Feeds) != 1 || !k.CreatedAt.Equal(at(1)) {
		t.Errorf("rotation changed the key's settings: %+v", k)
	}
	// A second rotation drops the first secret: only the one just replaced stays valid.
	if err := s.RotateKey(ctx, id, newer, at(40)); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.GetKey(ctx, id); !bytes.Equal(k.PrevHash, newHash) || !bytes.Equal(k.Hash, newer) {
		t.Errorf("second rotation: hash %x prev %x", k.Hash, k.PrevHash)
	}
	if err := s.RotateKey(ctx, "0b0c4c1e-9c3d-4f8e-a7b2-1b9a8c6d5002", newHash, at(30)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotate a missing key: %v, want ErrNotFound", err)
	}
	if err := s.RevokeKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateKey(ctx, id, oldHash, at(30)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotate a revoked key: %v, want ErrNotFound", err)
	}
}

func exerciseAudit(t *testing.T, setup setupFunc) {
	s, ctx := setup(t)
	for i := range 5 {
		e := store.AuditEntry{At: at(i), Actor: "boss", ActorKeyID: "k", Address: "192.0.2.1", Action: "feed.create",
			Target: fmt.Sprint(i), Detail: `title="x"`}
		if err := s.AddAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.ListAudit(ctx, 0, 3)
	if err != nil || len(page) != 3 {
		t.Fatalf("first page: %d entries, %v", len(page), err)
	}
	if page[0].Target != "4" || page[2].Target != "2" || !page[0].At.Equal(at(4)) || page[0].Address != "192.0.2.1" ||
		page[0].Actor != "boss" || page[0].Action != "feed.create" || page[0].Detail != `title="x"` || page[0].ActorKeyID != "k" {
		t.Errorf("first page, newest first: %+v", page)
	}
	next, err := s.ListAudit(ctx, page[2].ID, 3)
	if err != nil || len(next) != 2 || next[0].Target != "1" || next[1].Target != "0" {
		t.Fatalf("second page: %+v, %v", next, err)
	}
	// Trim by age (entries before minute 1) and by rows (keep the 2 newest).
	if n, err := s.TrimAudit(ctx, at(1), 1000); err != nil || n != 1 {
		t.Errorf("trim by age: %d, %v; want 1", n, err)
	}
	if n, err := s.TrimAudit(ctx, at(0), 2); err != nil || n != 2 {
		t.Errorf("trim by rows: %d, %v; want 2", n, err)
	}
	left, err := s.ListAudit(ctx, 0, 10)
	if err != nil || len(left) != 2 || left[0].Target != "4" || left[1].Target != "3" {
		t.Errorf("after trims: %+v, %v", left, err)
	}
}
