-- A feed's entries are built in steps, each a short write transaction, so that
-- creating or refiltering a feed over millions of versions never holds the writer
-- past TAXII_DB_LOCK_TIMEOUT. While build_end is set, the versions up to it are being
-- entered: build_next is the date_added the next step starts after; readers are told
-- the feed is being built.
ALTER TABLE feeds ADD COLUMN build_next INTEGER;
ALTER TABLE feeds ADD COLUMN build_end INTEGER;
