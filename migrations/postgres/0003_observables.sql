-- The values indicators' patterns name (observables.Of), one row per value and version.
-- Existing indicators are back-filled by the Go step of this migration (postgres/migrate.go).
-- is_latest mirrors objects.is_latest; revoked and valid_until repeat the indicator's, so
-- lookups and blocklists read this table's indexes and never the objects' JSON.
CREATE TABLE IF NOT EXISTS observables (
    date_added  bigint  NOT NULL REFERENCES objects (date_added) ON DELETE CASCADE,
    type        text    NOT NULL,
    value       text    NOT NULL,
    list        text    NOT NULL DEFAULT '',
    entry       text    NOT NULL DEFAULT '',
    revoked     boolean NOT NULL DEFAULT false,
    valid_until bigint  NOT NULL DEFAULT 0,
    is_latest   boolean NOT NULL,
    PRIMARY KEY (date_added, type, value)
);
-- IOC lookup by value, with or without its type.
CREATE INDEX IF NOT EXISTS observables_value_idx ON observables (value, type) WHERE is_latest;
-- Blocklists: one kind, entries in order (so DISTINCT streams), expiry read from the index.
CREATE INDEX IF NOT EXISTS observables_list_idx ON observables (list, entry) INCLUDE (valid_until, date_added)
    WHERE is_latest AND NOT revoked AND list <> '';
