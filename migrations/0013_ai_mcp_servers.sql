-- MCP servers registered with the AI module (src/modules/ai/mcp/). `transport` is `stdio` or
-- `http`; `config` is JSON: for stdio {"command", "args", "env"}, for http {"url", "headers"}.
-- Every env and header value in it is sealed (src/secrets.rs): they often carry tokens.
CREATE TABLE ai_mcp_servers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    transport   TEXT NOT NULL,
    config      TEXT NOT NULL,
    enabled     BIGINT NOT NULL,
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT
);
CREATE UNIQUE INDEX ai_mcp_servers_name ON ai_mcp_servers (name);
