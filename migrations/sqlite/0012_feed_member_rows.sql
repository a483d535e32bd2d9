-- Feed pages read their rows from the feed's own entries (issue 12), as on
-- Postgres. A page of a selective feed used to look each entry's object up by
-- rowid, one table b-tree descent and one table page per row (a 0.1% feed's
-- rows lie a thousand apart): 2-2.7x the CPU of an unfiltered page. The entries
-- now carry every column a page reads, raw included, in a WITHOUT ROWID table
-- ordered by (feed_id, date_added): a feed's entries lie together, and a page
-- of any feed is one range of the b-tree. The price is storage: each feed with
-- filters keeps a copy of its members' bytes. date_added is objects.date_added
-- (renamed from obj): the read conditions are written once for both tables.
-- An entry goes with its version (ON DELETE CASCADE, through the date_added
-- index); its flags follow the version's (syncMemberFlags).
CREATE TABLE feed_members_v12 (
    feed_id      TEXT    NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    date_added   INTEGER NOT NULL REFERENCES objects (date_added) ON DELETE CASCADE,
    is_latest    INTEGER NOT NULL,
    is_first     INTEGER NOT NULL,
    valid_until  INTEGER,
    id           TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    spec_version TEXT    NOT NULL,
    created      TEXT,
    modified     TEXT,
    version_key  TEXT    NOT NULL,
    raw          BLOB    NOT NULL,
    PRIMARY KEY (feed_id, date_added)
) WITHOUT ROWID;
INSERT INTO feed_members_v12 (feed_id, date_added, is_latest, is_first, valid_until,
    id, type, spec_version, created, modified, version_key, raw)
SELECT m.feed_id, o.date_added, o.is_latest, o.is_first, o.valid_until,
    o.id, o.type, o.spec_version, o.created, o.modified, o.version_key, o.raw
FROM feed_members m JOIN objects o ON o.date_added = m.obj
ORDER BY m.feed_id, m.obj;
DROP TABLE feed_members;
ALTER TABLE feed_members_v12 RENAME TO feed_members;
CREATE INDEX feed_members_date_added ON feed_members (date_added);
