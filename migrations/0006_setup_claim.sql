-- First-admin setup claims this single row in the transaction that creates the admin; its primary
-- key lets exactly one of several concurrent setups commit (on PostgreSQL too, where counting the
-- users inside each transaction is not enough). Installations set up already hold the claim.
CREATE TABLE setup_claim (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO setup_claim (id, user_id, created_at)
    SELECT 1, id, created_at FROM users ORDER BY created_at, id LIMIT 1;
