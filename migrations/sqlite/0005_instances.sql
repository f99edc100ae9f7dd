-- Several server instances share one PostgreSQL database: each registers
-- itself and beats every few seconds, and publishes which point consoles are
-- connected to it. Presence of an instance that stopped beating is ignored,
-- so its points show as disconnected rather than online forever.
-- (On SQLite a single instance runs; the tables stay empty.)

CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    last_beat_at BIGINT NOT NULL
);

CREATE TABLE point_presence (
    point_id BIGINT NOT NULL,
    instance_id TEXT NOT NULL,
    connections BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (point_id, instance_id)
);
