-- Foundation: users, sessions, API keys, JWT keys, settings, module config, audit, events.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL. Ids are TEXT (UUIDv7), times are
-- BIGINT Unix milliseconds, flags are BIGINT 0/1.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    password_hash TEXT,
    role          TEXT NOT NULL,
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    last_login_at BIGINT
);
CREATE UNIQUE INDEX users_username ON users (username);

-- One row per login: the refresh-token family. `refresh_jti` is the only refresh token of the
-- family that may still be used; presenting an older one revokes the family.
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_jti    TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    refreshed_at   BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_reason TEXT,
    source_ip      TEXT,
    user_agent     TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    role         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- Signing keys made by rotate-jwt (sealed with the encryption key). The configured root secret
-- has a row with a NULL secret once it has been retired.
CREATE TABLE jwt_keys (
    kid        TEXT PRIMARY KEY,
    secret_enc TEXT,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

-- Live module state; `enabled` NULL means "as in the configuration file". Secret values inside
-- `config` are sealed.
CREATE TABLE module_config (
    name       TEXT PRIMARY KEY,
    enabled    BIGINT,
    config     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    ts         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    actor_id   TEXT,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    result     TEXT NOT NULL,
    status     BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    source_ip  TEXT
);
CREATE INDEX audit_log_ts ON audit_log (ts);
CREATE INDEX audit_log_actor ON audit_log (actor, ts);

-- Events worth keeping for the activity feed and notifications (ids from the Broadcaster).
CREATE TABLE events (
    id      BIGINT PRIMARY KEY,
    kind    TEXT NOT NULL,
    ts      BIGINT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX events_kind ON events (kind, id);
