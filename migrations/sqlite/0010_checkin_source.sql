-- Kept in step with migrations/postgres/0010_checkin_source.sql.
-- Who made a check-in's operation id ('p:<point id>' or 'm:<member code>'),
-- beside its client_id. A resend of a check-in is recognised from the
-- member's live check-in itself, so a new check-in no longer writes an
-- `operations` row (with its answer, and a random key in that table's
-- index): the answer is made again from the row. `operations` keeps the
-- other answers (already checked in, head counts, absences, undos) and the
-- answer of a check-in that was annulled. Older rows have no source; their
-- answers are in `operations`.
ALTER TABLE checkins ADD COLUMN source TEXT;
