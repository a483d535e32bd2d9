-- Feed filters (issue 12): the filter fields of every version as indexed
-- columns, custom TLP marking definitions, the new filter columns of feeds,
-- and the per-feed membership index that serves selective feeds.

ALTER TABLE objects
    ADD COLUMN IF NOT EXISTS tlp         smallint NOT NULL DEFAULT 0, -- store.TLP: highest level of object_marking_refs
    ADD COLUMN IF NOT EXISTS creators    text[]   NOT NULL DEFAULT '{}', -- created_by_ref and x_inthreat_sources_refs
    ADD COLUMN IF NOT EXISTS confidence  smallint,                    -- NULL when absent
    ADD COLUMN IF NOT EXISTS labels      text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS revoked     boolean  NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS valid_until bigint;                      -- µs since the epoch; NULL when absent

-- Marking definitions that name a TLP level: the fixed TLP 1.0 and 2.0 ids, and
-- any other stored marking-definition whose definition.tlp or TLP 2.0 extension names one.
CREATE TABLE IF NOT EXISTS marking_tlp (
    id    text PRIMARY KEY,
    level smallint NOT NULL
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
    ('marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1', 5)
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION pg_temp.tlp_level(name text) RETURNS smallint LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE lower(name) WHEN 'white' THEN 1 WHEN 'clear' THEN 1 WHEN 'green' THEN 2 WHEN 'amber' THEN 3
        WHEN 'amber+strict' THEN 4 WHEN 'red' THEN 5 END::smallint
$$;

-- Back-fill: custom TLP markings first, then every row's fields from its stored bytes.
INSERT INTO marking_tlp (id, level)
SELECT id, max(level) FROM (
    SELECT id, pg_temp.tlp_level(coalesce(
        j->'extensions'->'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d'->>'tlp_2_0',
        j->'definition'->>'tlp')) AS level
    FROM (SELECT id, convert_from(raw, 'UTF8')::jsonb AS j FROM objects WHERE type = 'marking-definition') m
) d WHERE level IS NOT NULL GROUP BY id
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION pg_temp.str_array(v jsonb) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(e ORDER BY n), '{}') FROM jsonb_array_elements_text(
        CASE WHEN jsonb_typeof(v) = 'array' THEN v ELSE '[]' END) WITH ORDINALITY AS a(e, n) WHERE e <> ''
$$;

UPDATE objects o SET
    tlp = coalesce((SELECT max(t.level) FROM marking_tlp t
        WHERE t.id = ANY(pg_temp.str_array(s.j->'object_marking_refs'))), 0),
    creators = (CASE WHEN jsonb_typeof(s.j->'created_by_ref') = 'string' AND s.j->>'created_by_ref' <> ''
        THEN ARRAY[s.j->>'created_by_ref'] ELSE '{}' END) || pg_temp.str_array(s.j->'x_inthreat_sources_refs'),
    confidence = CASE WHEN jsonb_typeof(s.j->'confidence') = 'number'
        AND (s.j->>'confidence')::numeric BETWEEN 0 AND 100
        AND (s.j->>'confidence')::numeric = trunc((s.j->>'confidence')::numeric)
        THEN (s.j->>'confidence')::numeric::smallint END,
    labels = pg_temp.str_array(s.j->'labels'),
    revoked = coalesce(jsonb_typeof(s.j->'revoked') = 'boolean' AND (s.j->>'revoked')::boolean, false),
    valid_until = CASE WHEN jsonb_typeof(s.j->'valid_until') = 'string'
        AND s.j->>'valid_until' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$'
        THEN (extract(epoch FROM (s.j->>'valid_until')::timestamptz) * 1000000)::bigint END
FROM (SELECT date_added, convert_from(raw, 'UTF8')::jsonb AS j FROM objects) s
WHERE s.date_added = o.date_added;

ALTER TABLE feeds
    ADD COLUMN IF NOT EXISTS exclude_types   text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS tlp             smallint[] NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS sources         text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS created_by      text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS min_confidence  integer  NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS labels          text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS exclude_revoked boolean  NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS exclude_expired boolean  NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS with_context    boolean  NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS indexed         boolean  NOT NULL DEFAULT false; -- store.FeedFilter.Indexed

-- The versions each indexed feed shows (ignoring expiry, checked at read time),
-- in date_added order: a page of a 0.1% feed reads its own 1000 entries, not a
-- million rows. Kept at ingest, in the writer's transaction, and rebuilt by a
-- feed update under the clock lock. Deleted objects leave entries that match no
-- row (date_added is never reused); the join drops them.
CREATE TABLE IF NOT EXISTS feed_members (
    feed_id uuid   NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    obj     bigint NOT NULL, -- objects.date_added
    PRIMARY KEY (feed_id, obj)
);
