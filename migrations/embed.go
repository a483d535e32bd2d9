// Package migrations holds the numbered SQL schema files of each store, embedded in the binary.
package migrations

import "embed"

// Postgres holds postgres/NNNN_name.sql; Sqlite holds sqlite/NNNN_name.sql.
//
//go:embed postgres/*.sql
var Postgres embed.FS

//go:embed sqlite/*.sql
var Sqlite embed.FS
