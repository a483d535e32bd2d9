-- A feed's entries are built in steps, each a short transaction under the writers'
-- lock, so that creating or refiltering a feed over millions of versions neither holds
-- writers past TAXII_DB_LOCK_TIMEOUT nor runs one statement past the statement timeout.
-- While build_end is set, the versions up to it are being entered: build_next is the
-- date_added the next step starts after; readers are told the feed is being built.
ALTER TABLE feeds
    ADD COLUMN IF NOT EXISTS build_next bigint,
    ADD COLUMN IF NOT EXISTS build_end  bigint;
