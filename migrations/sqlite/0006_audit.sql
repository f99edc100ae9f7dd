-- Append-only record of who did what: imports, points and their operator
-- links, undo, accounts and roles, sessions, exports of personal data.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,          -- 'account:<id>', 'point:<id>' or 'system'
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,         -- e.g. 'units.import', 'point.link_rotated'
    target TEXT,                  -- what it was done to, e.g. 'unit:05800'
    details TEXT                  -- JSON
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action, at);
