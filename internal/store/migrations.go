package store

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// Migration is one numbered schema file, NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads the files NNNN_name.sql of dir in fsys, in version order.
// It refuses a file not so named, a version <= 0 and two files of one version,
// so both stores apply the same kind of sequence.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql with NNNN > 0", name)
		}
		body, err := fs.ReadFile(fsys, dir+"/"+name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(body)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].Name, ms[i].Name)
		}
	}
	return ms, nil
}

// CheckNotNewer returns ErrSchemaMismatch when the database has applied a
// migration that known lacks: a newer binary migrated it. Migrate calls it
// before applying anything, so an old binary never touches a newer schema.
func CheckNotNewer(applied []int, known []Migration) error {
	var unknown []int
	for _, v := range applied {
		if !slices.ContainsFunc(known, func(m Migration) bool { return m.Version == v }) {
			unknown = append(unknown, v)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%w: the database has migrations %v that this binary does not know (run a newer binary)",
			ErrSchemaMismatch, unknown)
	}
	return nil
}

// CheckApplied returns ErrSchemaMismatch unless applied (the versions a database
// records) is exactly known: nothing newer, nothing missing.
func CheckApplied(applied []int, known []Migration) error {
	if err := CheckNotNewer(applied, known); err != nil {
		return err
	}
	var missing []int
	for _, m := range known {
		if !slices.Contains(applied, m.Version) {
			missing = append(missing, m.Version)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: migrations %v are not applied (run migrate)", ErrSchemaMismatch, missing)
	}
	return nil
}

// CheckSteps refuses a Go step (a back-fill a store runs in a migration's
// transaction after its SQL) whose version no embedded migration has: such a
// step would never run.
func CheckSteps(known []Migration, stepVersions ...int) error {
	for _, v := range stepVersions {
		if !slices.ContainsFunc(known, func(m Migration) bool { return m.Version == v }) {
			return fmt.Errorf("migration step for version %d: no migration has that version", v)
		}
	}
	return nil
}
