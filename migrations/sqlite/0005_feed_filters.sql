-- Feed filters (issue 12): the filter fields of every version as columns,
-- custom TLP marking definitions, the new filter columns of feeds, and the
-- per-feed membership index that serves selective feeds. Lists are JSON arrays.

ALTER TABLE objects ADD COLUMN tlp         INTEGER NOT NULL DEFAULT 0;    -- store.TLP: highest level of object_marking_refs
ALTER TABLE objects ADD COLUMN creators    TEXT    NOT NULL DEFAULT '[]'; -- created_by_ref and x_inthreat_sources_refs
ALTER TABLE objects ADD COLUMN confidence  INTEGER;                       -- NULL when absent
ALTER TABLE objects ADD COLUMN labels      TEXT    NOT NULL DEFAULT '[]';
ALTER TABLE objects ADD COLUMN revoked     INTEGER NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN valid_until INTEGER;                       -- µs since the epoch; NULL when absent

-- Marking definitions that name a TLP level: the fixed TLP 1.0 and 2.0 ids, and
-- any other stored marking-definition whose definition.tlp or TLP 2.0 extension names one.
CREATE TABLE marking_tlp (
    id    TEXT    PRIMARY KEY,
    level INTEGER NOT NULL
);
INSERT INTO marking_tlp (id, level) VALUES
    ('marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9', 1),
    ('marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da', 2),
    ('marking-definition--f88d31f6-486f-44da-b317-01333bde0b82', 3),
    ('marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed', 5),
    ('marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487', 1),
    ('marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb', 2),
    ('marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421', 3),
    ('marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003', 4),
    ('marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1', 5);

-- Back-fill: custom TLP markings first, then every row's fields from its stored bytes.
INSERT OR IGNORE INTO marking_tlp (id, level)
SELECT id, max(level) FROM (
    SELECT id, CASE lower(coalesce(
            json_extract(j, '$.extensions."extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d".tlp_2_0'),
            json_extract(j, '$.definition.tlp')))
        WHEN 'white' THEN 1 WHEN 'clear' THEN 1 WHEN 'green' THEN 2 WHEN 'amber' THEN 3
        WHEN 'amber+strict' THEN 4 WHEN 'red' THEN 5 END AS level
    FROM (SELECT id, CAST(raw AS TEXT) AS j FROM objects WHERE type = 'marking-definition')
) WHERE level IS NOT NULL GROUP BY id;

UPDATE objects SET
    tlp = coalesce((SELECT max(t.level) FROM json_each(CAST(objects.raw AS TEXT), '$.object_marking_refs') r
        JOIN marking_tlp t ON t.id = r.value
        WHERE json_type(CAST(objects.raw AS TEXT), '$.object_marking_refs') = 'array'), 0),
    creators = (SELECT json_group_array(v) FROM (
        SELECT json_extract(CAST(objects.raw AS TEXT), '$.created_by_ref') AS v
        WHERE json_type(CAST(objects.raw AS TEXT), '$.created_by_ref') = 'text'
        UNION ALL
        SELECT value FROM json_each(CAST(objects.raw AS TEXT), '$.x_inthreat_sources_refs')
        WHERE json_type(CAST(objects.raw AS TEXT), '$.x_inthreat_sources_refs') = 'array' AND type = 'text'
    ) WHERE v <> ''),
    confidence = CASE WHEN json_type(CAST(raw AS TEXT), '$.confidence') IN ('integer', 'real')
        AND json_extract(CAST(raw AS TEXT), '$.confidence') BETWEEN 0 AND 100
        AND json_extract(CAST(raw AS TEXT), '$.confidence') = CAST(json_extract(CAST(raw AS TEXT), '$.confidence') AS INTEGER)
        THEN CAST(json_extract(CAST(raw AS TEXT), '$.confidence') AS INTEGER) END,
    labels = (SELECT json_group_array(value) FROM json_each(CAST(objects.raw AS TEXT), '$.labels')
        WHERE json_type(CAST(objects.raw AS TEXT), '$.labels') = 'array' AND type = 'text' AND value <> ''),
    revoked = coalesce(json_type(CAST(raw AS TEXT), '$.revoked') = 'true', 0),
    valid_until = CASE WHEN json_type(CAST(raw AS TEXT), '$.valid_until') = 'text'
        THEN CAST(round(unixepoch(json_extract(CAST(raw AS TEXT), '$.valid_until'), 'subsec') * 1000000) AS INTEGER) END;

ALTER TABLE feeds ADD COLUMN exclude_types   TEXT    NOT NULL DEFAULT '[]';
ALTER TABLE feeds ADD COLUMN tlp             TEXT    NOT NULL DEFAULT '[]';
ALTER TABLE feeds ADD COLUMN sources         TEXT    NOT NULL DEFAULT '[]';
ALTER TABLE feeds ADD COLUMN created_by      TEXT    NOT NULL DEFAULT '[]';
ALTER TABLE feeds ADD COLUMN min_confidence  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN labels          TEXT    NOT NULL DEFAULT '[]';
ALTER TABLE feeds ADD COLUMN exclude_revoked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN exclude_expired INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN with_context    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN indexed         INTEGER NOT NULL DEFAULT 0; -- store.FeedFilter.Indexed

-- The versions each indexed feed shows (ignoring expiry, checked at read time),
-- in date_added order: a page of a 0.1% feed reads its own 1000 entries, not a
-- million rows. Kept at ingest in the writer's transaction, rebuilt by a feed
-- update. Deleted objects leave entries that match no row (date_added is never
-- reused); the join drops them.
CREATE TABLE feed_members (
    feed_id TEXT    NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    obj     INTEGER NOT NULL, -- objects.date_added
    PRIMARY KEY (feed_id, obj)
) WITHOUT ROWID;
