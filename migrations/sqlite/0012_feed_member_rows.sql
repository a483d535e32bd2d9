-- Postgres migration 0012 moves each feed's membership entries, with a copy of
-- their rows, into a partition of their own. SQLite needs no copy: its feed
-- pages already cost at most 1.3x an unfiltered page (README, Filtered feeds).
-- This step keeps the two stores' migration numbers equal.
SELECT 1;
