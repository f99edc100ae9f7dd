-- Units, rosters, accounts, study sessions and connection points.
-- Timestamps are milliseconds since the Unix epoch (BIGINT on both databases).

CREATE TABLE units (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_search TEXT NOT NULL,           -- folded: lowercase, no diacritics
    sort_key TEXT NOT NULL,              -- Vietnamese collation key
    kind TEXT NOT NULL,
    parent_id INTEGER REFERENCES units (id),
    path TEXT NOT NULL,                  -- '/1/5/23/': ids from the root down
    depth INTEGER NOT NULL,
    expected_cadre INTEGER,
    expected_party_member INTEGER,
    expected_civil_servant INTEGER,
    expected_public_employee INTEGER,
    expected_worker INTEGER,
    expected_guest INTEGER,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX units_parent ON units (parent_id, sort_key);
CREATE INDEX units_path ON units (path);

CREATE TABLE members (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL,
    name_search TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    category TEXT NOT NULL,
    unit_id INTEGER NOT NULL REFERENCES units (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX members_unit ON members (unit_id, sort_key);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('organizer', 'manager')),
    unit_id INTEGER REFERENCES units (id),
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK ((role = 'organizer') = (unit_id IS NULL))
);

-- Web sessions (cookie) and API tokens; only a SHA-256 of the secret is kept.
CREATE TABLE auth_tokens (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('web', 'api')),
    name TEXT,
    csrf_token TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX auth_tokens_account ON auth_tokens (account_id);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    theme TEXT NOT NULL,
    description TEXT,
    host_unit_id INTEGER NOT NULL REFERENCES units (id),
    scope_unit_id INTEGER NOT NULL REFERENCES units (id),
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    checkin_opens_at BIGINT NOT NULL,
    checkin_closes_at BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'scheduled',
    tv_channel TEXT,
    air_time BIGINT,
    stream_url TEXT,
    recording_url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sessions_starts ON sessions (starts_at);

CREATE TABLE points (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    unit_id INTEGER NOT NULL REFERENCES units (id),
    name TEXT NOT NULL,
    location TEXT,
    kind TEXT NOT NULL,
    capacity INTEGER,
    operator_name TEXT,
    operator_phone TEXT,
    operator_token_hash TEXT UNIQUE,     -- NULL once revoked
    operator_token_issued_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (session_id, unit_id, name)
);
CREATE INDEX points_session ON points (session_id, unit_id);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
