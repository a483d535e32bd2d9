-- Admin API (issue 15): key rotation keeps the previous secret's hash valid
-- until prev_valid_until; the audit log records every management action (who,
-- what, target, when, from where), never a secret, trimmed by age and rows.
ALTER TABLE api_keys ADD COLUMN prev_hash        BLOB;
ALTER TABLE api_keys ADD COLUMN prev_valid_until INTEGER; -- µs since the epoch

CREATE TABLE admin_audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,           -- µs since the epoch
    actor        TEXT    NOT NULL,           -- key name, or "cli"
    actor_key_id TEXT    NOT NULL DEFAULT '',
    address      TEXT    NOT NULL DEFAULT '', -- client address after the trusted-proxy rules
    action       TEXT    NOT NULL,           -- feed.create, key.rotate...
    target       TEXT    NOT NULL DEFAULT '',
    detail       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX admin_audit_at_idx ON admin_audit (at);
