-- The AI module's custom agent modes (the built-in ones, autonomous, supervised and read-only,
-- live in the code): what an AI task may do with each tool — run it, ask a human first, or refuse.
CREATE TABLE ai_modes (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL,
    -- `run`, `ask` or `refuse`, for tools that only read and for tools that change the fleet.
    read_action  TEXT NOT NULL,
    write_action TEXT NOT NULL,
    -- JSON object: tool name -> action, overriding the class's.
    tools        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    updated_by   TEXT
);
