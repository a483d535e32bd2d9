-- Content digests (issue 16): a repeated version (same id and modified) is
-- "unchanged" when its content is the same and "conflicting" when it is not;
-- the stores compare 32 bytes instead of re-reading the stored JSON. Versions
-- stored before this migration have none: AddObjects computes a digest the
-- first time a version is met again and saves it, so the migration itself
-- reads no rows.
ALTER TABLE objects ADD COLUMN digest BLOB;

-- Upstream pulls count conflicts too (Samples then list them).
ALTER TABLE sources ADD COLUMN last_conflicting INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN total_conflicting INTEGER NOT NULL DEFAULT 0;

-- Admin import jobs (issue 15): readable from every replica while they run
-- (counts updated about every second) and for a while after. Times are µs
-- since the epoch, 0 for never; lines is a JSON array of strings.
CREATE TABLE IF NOT EXISTS import_jobs (
    id          TEXT    PRIMARY KEY,
    source      TEXT    NOT NULL,
    collection  TEXT    NOT NULL DEFAULT '',
    key_id      TEXT    NOT NULL DEFAULT '',
    key_name    TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    bytes       INTEGER NOT NULL DEFAULT 0,
    imported    INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    conflicting INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0,
    old_stix    INTEGER NOT NULL DEFAULT 0,
    lines       TEXT    NOT NULL DEFAULT '[]',
    unlisted    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS import_jobs_created_idx ON import_jobs (created_at);
CREATE INDEX IF NOT EXISTS import_jobs_updated_idx ON import_jobs (updated_at);
