-- The backups module: backup jobs (their definition as JSON: source, storage, compression,
-- retention, hooks) and one record per run. A record's object is `storage_key` under the
-- module's storage directory; a record is deleted with its object.
CREATE TABLE backup_jobs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    definition  TEXT NOT NULL,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX backup_jobs_name ON backup_jobs (name);

CREATE TABLE backup_records (
    id           TEXT PRIMARY KEY,
    job_id       TEXT NOT NULL,
    -- The operation (jobs.id) that ran it.
    operation_id TEXT,
    -- running, succeeded, failed, interrupted
    status       TEXT NOT NULL,
    -- manual or schedule
    origin       TEXT NOT NULL,
    size_bytes   BIGINT,
    files        BIGINT,
    sha256       TEXT,
    storage_key  TEXT,
    compression  TEXT NOT NULL,
    error        TEXT,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    verified_at  BIGINT,
    verify_error TEXT
);
CREATE INDEX backup_records_job ON backup_records (job_id, started_at);
CREATE INDEX backup_records_status ON backup_records (status);
