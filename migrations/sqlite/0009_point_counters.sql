-- Kept in step with migrations/postgres/0009_point_counters.sql, which keeps
-- each point's live check-ins in a counter table. SQLite needs none: it
-- counts a point's check-ins from the index checkins_point alone (no row is
-- read), so this step changes nothing here.
SELECT 1;
