-- Members of the public following the broadcast at home: one row per device
-- per session, counted under the commune they picked.
CREATE TABLE public_viewers (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    unit_id INTEGER NOT NULL REFERENCES units (id),
    device_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (session_id, device_id)
);
CREATE INDEX public_viewers_session ON public_viewers (session_id, unit_id);
