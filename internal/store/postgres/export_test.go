package postgres

import "github.com/inthreat/taxii-server/internal/store"

// KeysQuery is phase 1 of ScanObjects for q, a match[id] query, with its arguments, for plan tests.
func KeysQuery(q store.Query) (string, []any) {
	sql, args, err := idKeysSQL(q)
	if err != nil {
		panic(err)
	}
	return sql, args
}

// Lookups by id, for plan tests: each with arguments of the right types.
var Lookups = map[string]struct {
	SQL  string
	Args []any
}{
	"key":    {selectKey, []any{"6d1a2f9e-3f2c-4c55-9d0b-7d1cb1e6d001"}},
	"feed":   {selectFeed, []any{"6d1a2f9e-3f2c-4c55-9d0b-7d1cb1e6d001", "intel"}},
	"status": {selectStatus, []any{"6d1a2f9e-3f2c-4c55-9d0b-7d1cb1e6d001", "2026-01-01T00:00:00Z"}},
}

// PageQueries are the two phases of ScanObjects for q, a page that is not an id
// list, with their arguments, for plan tests; the range is first..last.
func PageQueries(q store.Query, first, last int64) (keys, rows string, args []any) {
	keys, rowsSQL, args, err := pageSQL(q, "date_added, id, type, spec_version, created, modified, raw")
	if err != nil {
		panic(err)
	}
	return keys, rowsSQL(first, last), args
}
