package postgres

import "github.com/inthreat/taxii-server/internal/store"

// KeysQuery is phase 1 of ScanObjects for q, with its arguments, for plan tests.
func KeysQuery(q store.Query) (string, []any) {
	sql, args, _ := keysSQL(q)
	return sql, args
}
