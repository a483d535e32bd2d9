-- The clock makes date_added strictly increasing in commit order: every writer
-- locks its one row until commit, so writers assign date_added one after another.
CREATE TABLE IF NOT EXISTS store_clock (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_us bigint NOT NULL
);
INSERT INTO store_clock (one, last_us) VALUES (true, 0) ON CONFLICT DO NOTHING;

-- Every version of every object. date_added (µs since the epoch) is unique, so it
-- is both the primary key and the paging position.
CREATE TABLE IF NOT EXISTS objects (
    date_added   bigint  PRIMARY KEY,
    id           text    NOT NULL,
    type         text    NOT NULL,
    spec_version text    NOT NULL,
    created      text    NOT NULL DEFAULT '',
    modified     text    NOT NULL DEFAULT '',
    version_key  text    NOT NULL, -- normalised modified/created; sorts as time
    is_latest    boolean NOT NULL,
    is_first     boolean NOT NULL,
    raw          bytea   NOT NULL,
    CONSTRAINT objects_version_uniq UNIQUE (id, version_key)
);
CREATE INDEX IF NOT EXISTS objects_latest_idx ON objects (date_added) INCLUDE (type, spec_version) WHERE is_latest;
CREATE INDEX IF NOT EXISTS objects_first_idx ON objects (date_added) INCLUDE (type, spec_version) WHERE is_first;
CREATE INDEX IF NOT EXISTS objects_type_latest_idx ON objects (type, date_added) WHERE is_latest;
CREATE INDEX IF NOT EXISTS objects_type_idx ON objects (type, date_added);

CREATE TABLE IF NOT EXISTS feeds (
    id          uuid PRIMARY KEY,
    title       text NOT NULL,
    description text NOT NULL DEFAULT '',
    alias       text UNIQUE,
    types       text[] NOT NULL DEFAULT '{}',
    writable    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS api_keys (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('read-only', 'read-write', 'admin')),
    feeds        text[] NOT NULL DEFAULT '{}',
    hash         bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE IF NOT EXISTS statuses (
    id                uuid PRIMARY KEY,
    feed_id           uuid NOT NULL,
    key_id            text NOT NULL DEFAULT '',
    status            text NOT NULL,
    request_timestamp timestamptz NOT NULL,
    total_count       integer NOT NULL,
    success_count     integer NOT NULL,
    failure_count     integer NOT NULL,
    pending_count     integer NOT NULL,
    successes         jsonb NOT NULL DEFAULT '[]',
    failures          jsonb NOT NULL DEFAULT '[]',
    pendings          jsonb NOT NULL DEFAULT '[]',
    expires_at        timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS statuses_expires_idx ON statuses (expires_at);

CREATE TABLE IF NOT EXISTS settings (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);
