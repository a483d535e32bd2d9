package store_test

import (
	"errors"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/inthreat/taxii-server/internal/store"
	"github.com/inthreat/taxii-server/migrations"
)

func TestLoadMigrations(t *testing.T) {
	ok := fstest.MapFS{
		"m/0002_more.sql":  {Data: []byte("SELECT 2")},
		"m/0001_init.sql":  {Data: []byte("SELECT 1")},
		"m/0010_later.sql": {Data: []byte("SELECT 10")},
		"m/README.md":      {Data: []byte("not a migration")},
	}
	ms, err := store.LoadMigrations(ok, "m")
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, m := range ms {
		got = append(got, m.Version)
	}
	if fmt.Sprint(got) != "[1 2 10]" || ms[0].SQL != "SELECT 1" || ms[0].Name != "0001_init.sql" {
		t.Fatalf("migrations %+v, want versions [1 2 10] in order", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"NoNumber":  {"m/init.sql": {}},
		"Zero":      {"m/0000_init.sql": {}},
		"Negative":  {"m/-001_init.sql": {}},
		"Duplicate": {"m/0001_a.sql": {}, "m/0001_b.sql": {}},
	} {
		if _, err := store.LoadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Both stores' embedded files load, start at 1 and have the same versions.
func TestEmbeddedMigrations(t *testing.T) {
	pg, err := store.LoadMigrations(migrations.Postgres, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	lite, err := store.LoadMigrations(migrations.Sqlite, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if len(pg) == 0 || pg[0].Version != 1 || len(pg) != len(lite) {
		t.Fatalf("postgres %d migrations, sqlite %d; want the same number, from 1", len(pg), len(lite))
	}
	for i := range pg {
		if pg[i].Version != lite[i].Version {
			t.Errorf("migration %d: postgres version %d, sqlite %d", i, pg[i].Version, lite[i].Version)
		}
	}
}

func TestCheckApplied(t *testing.T) {
	known := []store.Migration{{Version: 1}, {Version: 2}}
	for _, tt := range []struct {
		name     string
		applied  []int
		notNewer bool // CheckNotNewer passes
		exactly  bool // CheckApplied passes
	}{
		{"Exactly", []int{1, 2}, true, true},
		{"Empty", nil, true, false},
		{"Missing", []int{1}, true, false},
		{"Newer", []int{1, 2, 3}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := store.CheckNotNewer(tt.applied, known)
			if (err == nil) != tt.notNewer || (err != nil && !errors.Is(err, store.ErrSchemaMismatch)) {
				t.Errorf("CheckNotNewer = %v", err)
			}
			err = store.CheckApplied(tt.applied, known)
			if (err == nil) != tt.exactly || (err != nil && !errors.Is(err, store.ErrSchemaMismatch)) {
				t.Errorf("CheckApplied = %v", err)
			}
		})
	}
}

func TestCheckSteps(t *testing.T) {
	known := []store.Migration{{Version: 1, Name: "0001_a.sql"}, {Version: 3, Name: "0003_b.sql"}}
	if err := store.CheckSteps(known, 3); err != nil {
		t.Fatalf("a step of migration 3: %v", err)
	}
	if err := store.CheckSteps(known, 2); err == nil {
		t.Fatal("a step of version 2, which no migration has, was accepted")
	}
}
