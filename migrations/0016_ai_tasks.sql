-- AI tasks (the AI module's supervised tasks): a prompt handed to a model that works through
-- ContextBay's tools under its creator's role, with a transcript of every step. Conversations
-- group tasks that share context. Money is counted in millionths of a US dollar (integers, so
-- both stores agree to the unit).
CREATE TABLE ai_conversations (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    creator_id   TEXT NOT NULL,
    creator_name TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE ai_tasks (
    id               TEXT PRIMARY KEY,
    -- Who created it, and their role then: a task never runs with more than that role.
    creator_id       TEXT NOT NULL,
    creator_name     TEXT NOT NULL,
    creator_role     TEXT NOT NULL,
    prompt           TEXT NOT NULL,
    -- A built-in mode's name or a custom mode's id.
    mode             TEXT NOT NULL,
    -- The model asked for (`provider/model` or an id); NULL: the router chooses.
    model            TEXT,
    -- Who answered the last model turn.
    provider_used    TEXT,
    model_used       TEXT,
    -- queued, running, awaiting_approval, succeeded, failed, cancelled, interrupted.
    status           TEXT NOT NULL,
    max_steps        BIGINT NOT NULL,
    max_tokens       BIGINT NOT NULL,
    max_seconds      BIGINT NOT NULL,
    max_cost_micros  BIGINT NOT NULL,
    -- Model turns taken so far and what they used.
    turns            BIGINT NOT NULL,
    input_tokens     BIGINT NOT NULL,
    output_tokens    BIGINT NOT NULL,
    cost_micros      BIGINT NOT NULL,
    result           TEXT,
    error            TEXT,
    conversation_id  TEXT,
    session_id       TEXT,
    -- The task this one re-runs (POST /api/ai/tasks/{id}/retry).
    retry_of         TEXT,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT
);
CREATE INDEX ai_tasks_status ON ai_tasks (status);
CREATE INDEX ai_tasks_conversation ON ai_tasks (conversation_id, created_at);

-- The transcript: model turns, tool calls and results, approval requests, approvals,
-- rejections and errors, in order.
CREATE TABLE ai_task_steps (
    task_id       TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    -- JSON object.
    payload       TEXT NOT NULL,
    input_tokens  BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cost_micros   BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    PRIMARY KEY (task_id, seq)
);
