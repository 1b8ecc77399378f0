-- Monitoring and alerting: alert rules (rendered into the rule file Prometheus loads), alerts
-- received from Alertmanager, and each user's saved PromQL queries.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL. Ids are TEXT (UUIDv7), times are
-- BIGINT Unix milliseconds, flags are BIGINT 0/1, maps are JSON objects in TEXT.

CREATE TABLE alert_rules (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    expr         TEXT NOT NULL,
    -- Prometheus duration (`5m`), the rule's `for:`.
    for_duration TEXT NOT NULL,
    severity     TEXT NOT NULL,
    labels       TEXT NOT NULL,
    annotations  TEXT NOT NULL,
    enabled      BIGINT NOT NULL DEFAULT 1,
    -- Shipped with ContextBay (docs/monitoring.md); may be edited or deleted like any other.
    builtin      BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    updated_by   TEXT
);
CREATE UNIQUE INDEX alert_rules_name ON alert_rules (name);

-- One row per alert instance: Alertmanager's fingerprint (the label set) and when it started.
-- A later firing of the same label set is a new row.
CREATE TABLE alerts (
    id              TEXT PRIMARY KEY,
    fingerprint     TEXT NOT NULL,
    starts_at       BIGINT NOT NULL,
    name            TEXT NOT NULL,
    severity        TEXT NOT NULL,
    -- `firing` or `resolved`.
    status          TEXT NOT NULL,
    labels          TEXT NOT NULL,
    annotations     TEXT NOT NULL,
    generator_url   TEXT,
    rule_id         TEXT,
    ends_at         BIGINT,
    received_at     BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    acknowledged_at BIGINT,
    acknowledged_by TEXT,
    resolved_at     BIGINT,
    -- NULL when Alertmanager resolved it; the username when someone resolved it by hand.
    resolved_by     TEXT
);
CREATE UNIQUE INDEX alerts_instance ON alerts (fingerprint, starts_at);
CREATE INDEX alerts_status ON alerts (status, starts_at);

-- Saved PromQL per user; the same query saved again counts a use instead of a new row.
-- `query_hash` (SHA-256 hex) keeps the unique index small whatever the query's length.
CREATE TABLE metrics_history (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    query        TEXT NOT NULL,
    query_hash   TEXT NOT NULL,
    name         TEXT,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    use_count    BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX metrics_history_user_query ON metrics_history (user_id, query_hash);
CREATE INDEX metrics_history_user_used ON metrics_history (user_id, last_used_at);

-- The default rules (docs/monitoring.md, "Default alert rules"). They use the series the master
-- exports on /metrics and the `cb_component="master"` label of the scrape target it writes.
INSERT INTO alert_rules (id, name, expr, for_duration, severity, labels, annotations, enabled,
                         builtin, created_at, updated_at, updated_by) VALUES
(
    '01900000-0000-7000-8000-000000000001', 'NodeOffline',
    '(max_over_time(contextbay_node_up[1h]) unless contextbay_node_up) unless on() (up{cb_component="master"} == 0)',
    '2m', 'critical', '{}',
    '{"summary":"Node {{ $labels.hostname }} is not reporting","description":"Node {{ $labels.node }} ({{ $labels.hostname }}) was healthy within the last hour and has sent no heartbeat for over two minutes. ContextBay does not touch its containers; check the worker and the network."}',
    1, 1, 1795752869000, 1795752869000, NULL
),
(
    '01900000-0000-7000-8000-000000000002', 'NodeDiskAlmostFull',
    'contextbay_node_disk_used_bytes / contextbay_node_disk_total_bytes > 0.9 and contextbay_node_disk_total_bytes > 0',
    '10m', 'warning', '{}',
    '{"summary":"Disk {{ $labels.mount }} on {{ $labels.hostname }} is over 90% full","description":"{{ $labels.mount }} on {{ $labels.hostname }} is {{ $value | humanizePercentage }} full."}',
    1, 1, 1795752869000, 1795752869000, NULL
),
(
    '01900000-0000-7000-8000-000000000003', 'ContainerRestarting',
    'increase(contextbay_container_exits_total[15m]) >= 3',
    '0s', 'warning', '{}',
    '{"summary":"Container {{ $labels.container }} on {{ $labels.hostname }} keeps restarting","description":"{{ $labels.container }} exited {{ $value | humanize }} times in the last 15 minutes."}',
    1, 1, 1795752869000, 1795752869000, NULL
),
(
    '01900000-0000-7000-8000-000000000004', 'ContainerUnhealthy',
    'contextbay_container_unhealthy == 1',
    '2m', 'warning', '{}',
    '{"summary":"Container {{ $labels.container }} on {{ $labels.hostname }} is unhealthy","description":"The health check of {{ $labels.container }} has been failing for over two minutes."}',
    1, 1, 1795752869000, 1795752869000, NULL
),
(
    '01900000-0000-7000-8000-000000000005', 'MasterScrapeDown',
    'up{cb_component="master"} == 0',
    '1m', 'critical', '{}',
    '{"summary":"Prometheus cannot scrape the ContextBay master","description":"The scrape of {{ $labels.instance }} has failed for over a minute, so fleet metrics are not being recorded."}',
    1, 1, 1795752869000, 1795752869000, NULL
);
