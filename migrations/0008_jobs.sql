-- Long-running operations (stack deploy/stop/remove, later AI tasks, backups, …) run as jobs.
-- A row is written on every state change. `owner` is the id of the master process that runs the
-- job and `lease_until` (Unix ms) how long it holds it: renewed while the job runs, so a job whose
-- master is gone is found (lease expired) and marked `interrupted` instead of being lost.
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    resource    TEXT NOT NULL,
    state       TEXT NOT NULL,
    progress    BIGINT,
    message     TEXT,
    result      TEXT,
    error       TEXT,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT,
    owner       TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);
CREATE INDEX jobs_created ON jobs (created_at);
CREATE INDEX jobs_resource ON jobs (resource, created_at);
CREATE INDEX jobs_state ON jobs (state, lease_until);
