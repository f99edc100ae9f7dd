-- Attendance: check-ins, absences, head counts, and the answers already
-- given to client-generated operation ids (so a resend gets the same answer).

CREATE TABLE checkins (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    member_id INTEGER NOT NULL REFERENCES members (id),
    point_id INTEGER REFERENCES points (id),      -- NULL when not at a point (TV/home)
    method TEXT NOT NULL,                        -- qr_self, roster, card, broadcast, makeup
    client_id TEXT,                              -- the id the device gave the operation
    taken_at BIGINT NOT NULL,                    -- device time
    received_at BIGINT NOT NULL,                 -- server time
    replayed BOOLEAN NOT NULL DEFAULT FALSE,     -- sent from an offline queue
    annulled_at BIGINT,                          -- undo: recorded, never erased
    annul_reason TEXT
);
-- At most one live check-in per member per session: the database decides races.
CREATE UNIQUE INDEX checkins_once ON checkins (session_id, member_id) WHERE annulled_at IS NULL;
CREATE INDEX checkins_point ON checkins (point_id);
CREATE INDEX checkins_session ON checkins (session_id, received_at);

CREATE TABLE absences (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    member_id INTEGER NOT NULL REFERENCES members (id),
    point_id INTEGER REFERENCES points (id),
    reason TEXT,
    taken_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (session_id, member_id)
);

-- Every head-count report is kept; the latest (by device time) counts.
CREATE TABLE head_counts (
    id INTEGER PRIMARY KEY,
    point_id INTEGER NOT NULL REFERENCES points (id),
    count INTEGER NOT NULL,
    taken_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX head_counts_point ON head_counts (point_id, taken_at);

-- Idempotency: the answer given to (source, client id). Source is 'p:<point id>'
-- for a console or 'm:<member code>' for a member's phone.
CREATE TABLE operations (
    source TEXT NOT NULL,
    client_id TEXT NOT NULL,
    answer TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (source, client_id)
);
