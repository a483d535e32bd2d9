-- Usage per API key and feed, one row per UTC hour (hour: µs since the epoch of
-- its start). Counters are only ever added to (replicas each add what they
-- counted); rows older than the retention are deleted by the usage flusher.
-- key_id '' is the overflow row; feed_id '' counts requests about no one feed.
CREATE TABLE IF NOT EXISTS usage_hourly (
	hour             INTEGER NOT NULL,
	key_id           TEXT NOT NULL,
	feed_id          TEXT NOT NULL,
	requests         INTEGER NOT NULL DEFAULT 0,
	polls            INTEGER NOT NULL DEFAULT 0,
	objects          INTEGER NOT NULL DEFAULT 0,
	bytes            INTEGER NOT NULL DEFAULT 0,
	last_poll        INTEGER NOT NULL DEFAULT 0,
	last_added_after INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (hour, key_id, feed_id)
);
-- A key's daily series reads its rows of the last days.
CREATE INDEX IF NOT EXISTS usage_hourly_key ON usage_hourly (key_id, hour);
