-- Every version of every STIX object, in date_added order. date_added is the
-- rowid, so the keyset scans used by paging walk the table itself.
CREATE TABLE objects (
    date_added   INTEGER PRIMARY KEY,          -- µs since the epoch, unique, from clock
    id           TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    spec_version TEXT    NOT NULL,
    created      TEXT,                         -- exact string as received; NULL when absent
    modified     TEXT,                         -- exact string as received; NULL when absent
    version_key  TEXT    NOT NULL,             -- store.VersionKey(modified else created)
    is_latest    INTEGER NOT NULL DEFAULT 0,
    is_first     INTEGER NOT NULL DEFAULT 0,
    raw          BLOB    NOT NULL              -- last, so scans that skip it never read its overflow pages
);

-- Identity of a version; also serves match[id] and the flag upkeep per id.
CREATE UNIQUE INDEX objects_id_version ON objects (id, version_key);

-- match[version]=last, the default, walks this in date_added order instead of
-- the table; several types are filtered inside the index.
CREATE INDEX objects_latest ON objects (date_added, type, spec_version) WHERE is_latest = 1;

-- Latest of one type (a feed of indicators): an exact range, still in date_added order.
CREATE INDEX objects_latest_type ON objects (type, date_added) WHERE is_latest = 1;

-- Rarer queries (first, all versions) walk the table itself in date_added order:
-- every index costs the import.

-- One row: the last date_added handed out. Writers are serialised by
-- BEGIN IMMEDIATE, so reading and bumping it inside the transaction keeps
-- date_added strictly increasing in commit order.
CREATE TABLE clock (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
INSERT INTO clock (id, last) VALUES (1, 0);

CREATE TABLE feeds (
    id          TEXT    PRIMARY KEY,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    alias       TEXT    UNIQUE,                -- NULL when none, so many feeds may have none
    types       TEXT    NOT NULL DEFAULT '[]', -- JSON array of STIX types; empty: all
    writable    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL               -- µs since the epoch
);

CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    feeds        TEXT    NOT NULL DEFAULT '[]', -- JSON array of feed ids; empty: all
    hash         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,              -- µs since the epoch
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE statuses (
    id                TEXT    PRIMARY KEY,
    feed_id           TEXT    NOT NULL,
    key_id            TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    request_timestamp INTEGER NOT NULL,         -- µs since the epoch
    total_count       INTEGER NOT NULL,
    success_count     INTEGER NOT NULL,
    failure_count     INTEGER NOT NULL,
    pending_count     INTEGER NOT NULL,
    successes         TEXT    NOT NULL DEFAULT '[]', -- JSON arrays of {id, version, message}
    failures          TEXT    NOT NULL DEFAULT '[]',
    pendings          TEXT    NOT NULL DEFAULT '[]',
    expires_at        INTEGER NOT NULL          -- µs since the epoch
);
CREATE INDEX statuses_expires_at ON statuses (expires_at);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
