-- Fleet: hosts (placeholder → enrolled node), enroll attempts, census snapshots.
-- A host and the node it becomes share one id and one row.

CREATE TABLE hosts (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    labels           TEXT NOT NULL DEFAULT '{}',
    security_policy  TEXT NOT NULL DEFAULT '{}',
    -- The current enroll token (SHA-256), its expiry and when it was used.
    token_hash       TEXT,
    token_expires_at BIGINT,
    token_used_at    BIGINT,
    -- Tokens replaced by regenerate-token, so their use is reported as revoked, not unknown.
    old_token_hash   TEXT,
    -- The node credential (SHA-256) handed out at enrollment; NULL until then or once revoked.
    credential_hash  TEXT,
    enrolled_at      BIGINT,
    hostname         TEXT,
    hardware         TEXT NOT NULL DEFAULT '{}',
    agent_version    TEXT,
    proto_minor      BIGINT,
    registered_at    BIGINT,
    docker_ok_at     BIGINT,
    fused_at         BIGINT,
    last_seen_at     BIGINT,
    last_event_seq   BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX hosts_name ON hosts (name);
CREATE UNIQUE INDEX hosts_token ON hosts (token_hash);
CREATE INDEX hosts_old_token ON hosts (old_token_hash);
CREATE UNIQUE INDEX hosts_credential ON hosts (credential_hash);

CREATE TABLE enroll_attempts (
    id         TEXT PRIMARY KEY,
    host_id    TEXT,
    ts         BIGINT NOT NULL,
    source_ip  TEXT,
    hostname   TEXT,
    accepted   BIGINT NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX enroll_attempts_host ON enroll_attempts (host_id, ts);

CREATE TABLE census (
    id      TEXT PRIMARY KEY,
    node_id TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    ts      BIGINT NOT NULL,
    data    TEXT NOT NULL
);
CREATE INDEX census_node ON census (node_id, ts);
