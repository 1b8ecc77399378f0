-- The cb-* services deployed as sub-containers: desired state (the configuration the service
-- should run with, on which endpoint, as which stack) and what the service's actor observed
-- (restarts it made, whether it flaps, the last health probe). `deployed_config` is the
-- configuration of the last deploy that succeeded (NULL until one did): drift is shown against it.
CREATE TABLE subcontainers (
    name            TEXT PRIMARY KEY,
    endpoint        TEXT NOT NULL,
    stack_id        TEXT NOT NULL,
    config          TEXT NOT NULL,
    deployed_config TEXT,
    restarts        BIGINT NOT NULL DEFAULT 0,
    last_restart_at BIGINT,
    flapping        BIGINT NOT NULL DEFAULT 0,
    health          TEXT,
    health_detail   TEXT,
    health_at       BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
