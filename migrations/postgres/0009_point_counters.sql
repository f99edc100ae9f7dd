-- PostgreSQL twin of migrations/sqlite/0009_point_counters.sql: keep them in step.
-- Each point's live check-ins, kept by the database as check-ins are written.
-- A point's console shows that count with every acknowledgement. Counting it
-- from checkins_point is cheap on SQLite, but on PostgreSQL each fresh row is
-- a heap visit (index-only scans need pages marked all-visible, which a
-- table growing by thousands of rows a second never has): in the national
-- burst, those counts were half of the database's busy time.
--
-- Statement-level triggers see each statement's rows at once, so a batch of a
-- thousand check-ins updates each of its points' counters once. The counter
-- rows are locked in point order (ORDER BY), so two batches never deadlock
-- on them; a counter is only ever changed in the transaction that changes
-- the check-ins it counts, so it is exact under concurrency.

CREATE TABLE point_checkins (
    point_id BIGINT PRIMARY KEY REFERENCES points (id) ON DELETE CASCADE,
    checked_in BIGINT NOT NULL
);

INSERT INTO point_checkins (point_id, checked_in)
SELECT point_id, count(*) FILTER (WHERE annulled_at IS NULL)
FROM checkins WHERE point_id IS NOT NULL GROUP BY point_id;

-- Adds `delta` rows of (point_id, n) to the counters.
CREATE FUNCTION point_checkins_add(delta_points BIGINT[], delta_counts BIGINT[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO point_checkins AS pc (point_id, checked_in)
    SELECT d.point_id, d.n FROM unnest(delta_points, delta_counts) AS d (point_id, n)
    WHERE d.n <> 0 ORDER BY d.point_id
    ON CONFLICT (point_id) DO UPDATE SET checked_in = pc.checked_in + excluded.checked_in;
$$;

CREATE FUNCTION point_checkins_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM point_checkins_add(array_agg(point_id), array_agg(n))
    FROM (SELECT point_id, count(*) AS n FROM new_rows
          WHERE point_id IS NOT NULL AND annulled_at IS NULL GROUP BY point_id) d;
    RETURN NULL;
END $$;

CREATE FUNCTION point_checkins_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM point_checkins_add(array_agg(point_id), array_agg(n))
    FROM (SELECT point_id, sum(n)::BIGINT AS n FROM (
              SELECT point_id, 1 AS n FROM new_rows WHERE point_id IS NOT NULL AND annulled_at IS NULL
              UNION ALL
              SELECT point_id, -1 FROM old_rows WHERE point_id IS NOT NULL AND annulled_at IS NULL
          ) c GROUP BY point_id) d;
    RETURN NULL;
END $$;

CREATE FUNCTION point_checkins_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM point_checkins_add(array_agg(point_id), array_agg(-n))
    FROM (SELECT point_id, count(*) AS n FROM old_rows
          WHERE point_id IS NOT NULL AND annulled_at IS NULL GROUP BY point_id) d;
    RETURN NULL;
END $$;

CREATE TRIGGER checkins_count_insert AFTER INSERT ON checkins
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION point_checkins_after_insert();
CREATE TRIGGER checkins_count_update AFTER UPDATE ON checkins
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION point_checkins_after_update();
CREATE TRIGGER checkins_count_delete AFTER DELETE ON checkins
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION point_checkins_after_delete();
