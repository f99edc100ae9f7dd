-- A point's live check-ins (counted for its console with every acknowledgement
-- and welcome) are found in one index, without reading the rows. Kept in step
-- with migrations/postgres/0008_point_counts.sql, where the planner needed it.
DROP INDEX checkins_point;
CREATE INDEX checkins_point ON checkins (point_id, annulled_at);
