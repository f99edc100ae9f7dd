-- PostgreSQL twin of migrations/sqlite/0008_point_counts.sql: keep them in step.
-- A point's live check-ins (counted for its console with every acknowledgement
-- and welcome) are found in one index. With `point_id` alone, PostgreSQL
-- before its first ANALYZE of a growing table ANDed it with the whole partial
-- index checkins_once: each count read every live check-in of the session,
-- and 40,000 consoles connecting at once stalled the database.
DROP INDEX checkins_point;
CREATE INDEX checkins_point ON checkins (point_id, annulled_at);
