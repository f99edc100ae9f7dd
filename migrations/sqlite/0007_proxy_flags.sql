-- Proxy-attendance flags: which phone made a self check-in (a short hash of a
-- random id the page keeps), and the organizers' reviews of computed flags.
ALTER TABLE checkins ADD COLUMN device TEXT;
-- The "one device, many members" rule groups by session, point and device.
CREATE INDEX checkins_device ON checkins (session_id, point_id, device) WHERE device IS NOT NULL;

-- Flags are computed at read time; only the review is stored, by a stable key.
CREATE TABLE flag_reviews (
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    flag_key TEXT NOT NULL,       -- e.g. 'device:<point id>:<device>' or 'far:<member id>'
    reviewed_at BIGINT NOT NULL,
    reviewed_by TEXT NOT NULL,    -- display name of the account
    note TEXT NOT NULL,
    PRIMARY KEY (session_id, flag_key)
);
