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
