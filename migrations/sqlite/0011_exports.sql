-- Feed exports (issue 13). changed is the time of the store's last change that adds
-- no version (a delete, a purge, a feed update): with last it dates every change, so
-- a blocklist's ETag and Last-Modified come from this row instead of reading the list.
ALTER TABLE clock ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
-- The next and the last expiry of a blocklist's entries, each one index probe.
CREATE INDEX observables_expiry ON observables (list, valid_until)
    WHERE is_latest = 1 AND revoked = 0 AND list <> '' AND valid_until > 0;
-- A feed's default export format and custom template ('' : json).
ALTER TABLE feeds ADD COLUMN export_format TEXT NOT NULL DEFAULT '';
ALTER TABLE feeds ADD COLUMN export_template TEXT NOT NULL DEFAULT '';
