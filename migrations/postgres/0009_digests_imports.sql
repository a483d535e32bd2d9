-- Content digests (issue 16): a repeated version (same id and modified) is
-- "unchanged" when its content is the same and "conflicting" when it is not;
-- the stores compare 32 bytes instead of re-reading the stored JSON. Versions
-- stored before this migration have none: AddObjects computes a digest the
-- first time a version is met again and saves it, so the migration itself
-- reads no rows.
ALTER TABLE objects ADD COLUMN IF NOT EXISTS digest bytea;

-- Upstream pulls count conflicts too (Samples then list them).
ALTER TABLE sources
    ADD COLUMN IF NOT EXISTS last_conflicting  bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS total_conflicting bigint NOT NULL DEFAULT 0;

-- Admin import jobs (issue 15): readable from every replica while they run
-- (counts updated about every second) and for a while after. Times are µs
-- since the epoch, 0 for never; lines is a JSON array of strings.
CREATE TABLE IF NOT EXISTS import_jobs (
    id          uuid PRIMARY KEY,
    source      text   NOT NULL,
    collection  text   NOT NULL DEFAULT '',
    key_id      text   NOT NULL DEFAULT '',
    key_name    text   NOT NULL DEFAULT '',
    state       text   NOT NULL,
    error       text   NOT NULL DEFAULT '',
    bytes       bigint NOT NULL DEFAULT 0,
    imported    bigint NOT NULL DEFAULT 0,
    unchanged   bigint NOT NULL DEFAULT 0,
    conflicting bigint NOT NULL DEFAULT 0,
    rejected    bigint NOT NULL DEFAULT 0,
    old_stix    bigint NOT NULL DEFAULT 0,
    lines       jsonb  NOT NULL DEFAULT '[]',
    unlisted    bigint NOT NULL DEFAULT 0,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    finished_at bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS import_jobs_created_idx ON import_jobs (created_at);
CREATE INDEX IF NOT EXISTS import_jobs_updated_idx ON import_jobs (updated_at);
