-- Admin API (issue 15): key rotation keeps the previous secret's hash valid
-- until prev_valid_until; the audit log records every management action (who,
-- what, target, when, from where), never a secret, trimmed by age and rows.
ALTER TABLE api_keys
    ADD COLUMN IF NOT EXISTS prev_hash        bytea,
    ADD COLUMN IF NOT EXISTS prev_valid_until timestamptz;

CREATE TABLE IF NOT EXISTS admin_audit (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL,
    actor        text NOT NULL,              -- key name, or "cli"
    actor_key_id text NOT NULL DEFAULT '',
    address      text NOT NULL DEFAULT '',   -- client address after the trusted-proxy rules
    action       text NOT NULL,              -- feed.create, key.rotate...
    target       text NOT NULL DEFAULT '',
    detail       text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS admin_audit_at_idx ON admin_audit (at);
