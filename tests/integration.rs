//! The integration suite: one test binary, a real master on port 0 per test, real HTTP and
//! WebSocket clients.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed step should fail the test at that line"
)]

mod integration {
    pub mod harness;
    pub mod support;

    mod adversarial;
    mod ai;
    mod ai_context;
    mod ai_mcp;
    mod ai_mcp_server;
    mod ai_tasks;
    mod alerting;
    mod auth;
    mod automation;
    mod backups;
    mod backups_database;
    mod backups_s3;
    mod backups_worker;
    mod chaos;
    mod cluster;
    mod cluster_routing;
    mod compose_security;
    mod concurrency;
    mod contract;
    pub mod docker;
    mod errors;
    mod events;
    mod failover;
    mod fleet;
    mod floods;
    mod image;
    mod inventory;
    mod jobs;
    mod keys;
    mod migrate_store;
    mod modules;
    mod monitoring;
    mod observability;
    mod permissions;
    mod pg_outage;
    mod policies;
    mod policy;
    mod postgres;
    mod settings;
    mod sockets;
    mod stacks;
    mod subcontainers;
    mod supervision;
    mod transfer;
    mod upgrade;
    mod users;
}
