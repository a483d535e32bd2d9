package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/internal/store/postgres/pgtest"
)

func TestSmoke(t *testing.T) {
	s := pgtest.New(t)
	ctx := context.Background()
	var objs []store.Object
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("indicator--00000000-0000-4000-8000-00000000000%d", i)
		objs = append(objs, store.Object{ID: id, Type: "indicator", SpecVersion: "2.1", Created: "2020-01-01T00:00:00Z", Modified: "2020-01-01T00:00:00Z", Raw: []byte(`{"id":"` + id + `"}`)})
	}
	objs = append(objs, objs[0])
	o2 := objs[1]
	o2.Modified = "2021-01-01T00:00:00.000Z"
	objs = append(objs, o2)
	out, err := s.AddObjects(ctx, objs)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out)
	out, err = s.AddObjects(ctx, objs[:2])
	t.Log(out, err)
	err = s.ScanObjects(ctx, store.Query{Limit: 3}, func(p store.Page) error { t.Log(p); return nil }, func(r store.Row) error { t.Log(r.DateAdded, r.ID, r.Version, string(r.Raw)); return nil })
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteObject(ctx, store.FeedFilter{}, objs[1].ID, store.VersionMatch{Last: true}, nil)
	t.Log(n, err)
	err = s.ScanObjects(ctx, store.Query{Limit: 30, IDs: []string{objs[1].ID}}, func(p store.Page) error { t.Log(p); return nil }, func(r store.Row) error { t.Log(r.DateAdded, r.ID, r.Version, string(r.Raw)); return nil })
	sec, err := s.CursorSecret(ctx)
	t.Log(sec, err)
}
