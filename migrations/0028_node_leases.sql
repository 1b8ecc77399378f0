-- Several masters (cluster.nats_url): a node is owned by the master that holds its worker's
-- command stream. That master takes the lease when the stream attaches and renews it with every
-- heartbeat (`expires_at`, Unix ms); it is released on a clean disconnect. Another master takes
-- it only once it is free or expired, so at most one master owns a node at a time; commands for
-- the node sent to any other master are routed to the owner (docs/ha.md).
CREATE TABLE node_leases (
    node_id    TEXT PRIMARY KEY,
    master_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    renewed_at BIGINT NOT NULL
);
CREATE INDEX node_leases_master ON node_leases (master_id);
