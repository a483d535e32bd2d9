-- The values indicators' patterns name (observables.Of), one row per value and version.
-- Existing indicators are back-filled by the Go step of this migration (sqlite/migrate.go).
-- is_latest mirrors objects.is_latest; revoked and valid_until repeat the indicator's, so
-- lookups and blocklists read this table's indexes and never the objects' JSON.
CREATE TABLE observables (
    date_added  INTEGER NOT NULL REFERENCES objects (date_added) ON DELETE CASCADE,
    type        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    list        TEXT    NOT NULL DEFAULT '',
    entry       TEXT    NOT NULL DEFAULT '',
    revoked     INTEGER NOT NULL DEFAULT 0,
    valid_until INTEGER NOT NULL DEFAULT 0,
    is_latest   INTEGER NOT NULL,
    PRIMARY KEY (date_added, type, value)
) WITHOUT ROWID;
-- IOC lookup by value, with or without its type.
CREATE INDEX observables_value ON observables (value, type) WHERE is_latest = 1;
-- Blocklists: one kind, entries in order (so DISTINCT streams), covering.
CREATE INDEX observables_list ON observables (list, entry, valid_until, date_added)
    WHERE is_latest = 1 AND revoked = 0 AND list <> '';
