-- Feed exports (issue 13). changed_us is the time of the store's last change that adds
-- no version (a delete, a purge, a feed update): with last_us it dates every change, so
-- a blocklist's ETag and Last-Modified come from this row instead of reading the list.
ALTER TABLE store_clock ADD COLUMN IF NOT EXISTS changed_us bigint NOT NULL DEFAULT 0;
-- Blocklists in byte order (as the store contract and SQLite have it) and compared
-- byte by byte: the database's collation (en_US.UTF-8, C.UTF-8...) doubles the cost
-- of the ordered, deduplicated scan of a million entries.
DROP INDEX IF EXISTS observables_list_idx;
CREATE INDEX IF NOT EXISTS observables_list_idx ON observables (list, entry COLLATE "C") INCLUDE (valid_until, date_added)
    WHERE is_latest AND NOT revoked AND list <> '';
-- The next and the last expiry of a blocklist's entries, each one index probe.
CREATE INDEX IF NOT EXISTS observables_expiry_idx ON observables (list, valid_until)
    WHERE is_latest AND NOT revoked AND list <> '' AND valid_until > 0;
-- A feed's default export format and custom template ('' : json).
ALTER TABLE feeds
    ADD COLUMN IF NOT EXISTS export_format   text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS export_template text NOT NULL DEFAULT '';
