-- After the session: connection history of points (for "điểm cầu kết nối"
-- in reports), make-up by recording, webhooks, and aggregate figures kept
-- when personal data is removed by the retention policy.

ALTER TABLE points ADD COLUMN first_connected_at BIGINT;
ALTER TABLE points ADD COLUMN last_connected_at BIGINT;

-- Share of the recording a member must watch to count as studied (0–1).
ALTER TABLE sessions ADD COLUMN makeup_threshold REAL NOT NULL DEFAULT 0.8;

CREATE TABLE makeup_progress (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    member_id INTEGER NOT NULL REFERENCES members (id),
    duration_s REAL NOT NULL,               -- length of the recording as the player saw it
    watched TEXT NOT NULL,                  -- JSON [[start, end], …] seconds, merged
    watched_s REAL NOT NULL,
    last_report_at BIGINT NOT NULL,
    last_position_s REAL NOT NULL,
    completed_at BIGINT,
    UNIQUE (session_id, member_id)
);

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,                   -- comma-separated event types
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_by INTEGER REFERENCES accounts (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,                 -- stable: receivers deduplicate on it
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (delivered_at, next_attempt_at);

-- Figures kept for a session whose personal data was removed.
CREATE TABLE session_summaries (
    session_id INTEGER PRIMARY KEY REFERENCES sessions (id),
    figures TEXT NOT NULL,                  -- JSON: the report's rows per unit
    purged_at BIGINT NOT NULL
);
