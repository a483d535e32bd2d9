-- Provenance: every stored version records its source (a key's, or an import's),
-- so that a writer can be confined to the objects it stored. Rows stored before
-- this migration become the source "import". SQLite cannot drop a column
-- default; the store always writes the source.
ALTER TABLE objects ADD COLUMN source TEXT NOT NULL DEFAULT 'import';

-- A key's source defaults to its name.
ALTER TABLE api_keys ADD COLUMN source TEXT NOT NULL DEFAULT '';
UPDATE api_keys SET source = name WHERE source = '';
