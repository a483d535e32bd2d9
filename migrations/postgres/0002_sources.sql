-- Provenance: every stored version records its source (a key's, or an import's),
-- so that a writer can be confined to the objects it stored. Rows stored before
-- this migration came from import or from keys whose source was not recorded:
-- they become the source "import". Without a default afterwards, a writer that
-- forgets its source fails instead of silently writing as "import".
ALTER TABLE objects ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'import';
ALTER TABLE objects ALTER COLUMN source DROP DEFAULT;

-- A key's source defaults to its name.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT '';
UPDATE api_keys SET source = name WHERE source = '';
