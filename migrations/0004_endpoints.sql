-- Docker endpoints: `local` (the master's socket), `agent` (a fused node, through its command
-- stream; id = node id) and `tcp` (TLS with client certificates, sealed).
CREATE TABLE endpoints (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    node_id    TEXT,
    url        TEXT,
    tls        TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX endpoints_name ON endpoints (name);

-- CB's health snapshots for services (PUT /api/services/{id}/health).
CREATE TABLE service_health (
    id         TEXT PRIMARY KEY,
    endpoint   TEXT NOT NULL,
    status     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Stacks: compose projects, stored or adopted.
CREATE TABLE stacks (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    endpoint     TEXT NOT NULL,
    compose      TEXT NOT NULL,
    env          TEXT NOT NULL DEFAULT '{}',
    adopted      BIGINT NOT NULL DEFAULT 0,
    status       TEXT NOT NULL DEFAULT 'stored',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX stacks_endpoint_name ON stacks (endpoint, name);
