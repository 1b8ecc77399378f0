-- AI sessions: long-lived conversations whose turns are AI tasks (`ai_tasks.session_id`). A
-- session's id is also the id of its conversation (`ai_conversations`), so its turns see the
-- earlier ones. Ending a session cancels its live turns; it stays readable.
CREATE TABLE ai_sessions (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    pinned       BIGINT NOT NULL,
    -- JSON array of strings.
    tags         TEXT NOT NULL,
    -- The default mode and model of its turns.
    mode         TEXT NOT NULL,
    model        TEXT,
    creator_id   TEXT NOT NULL,
    creator_name TEXT NOT NULL,
    -- active or ended.
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    ended_by     TEXT
);
CREATE INDEX ai_tasks_session ON ai_tasks (session_id, created_at);
