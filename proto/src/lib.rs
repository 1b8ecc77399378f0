//! The ContextBay worker/master protocol: messages and tonic services of `contextbay.v1`,
//! generated at build time from `proto/contextbay/v1/*.proto` (read their headers for the
//! transport, authentication and versioning rules).

/// `contextbay.v1`: `NodeService` (register, heartbeat, metrics, events) and `CommandService`
/// (the bidirectional command stream).
pub mod v1 {
    #![allow(
        clippy::all,
        clippy::pedantic,
        clippy::unwrap_used,
        clippy::expect_used,
        missing_docs,
        unreachable_pub
    )]
    tonic::include_proto!("contextbay.v1");
}

/// Minor version of `contextbay.v1` implemented by this build. Bump it with every release that
/// adds a field, message, command or enum value; see the header of `node.proto`.
pub const PROTO_MINOR: u32 = 2;

/// Metadata key that carries the node credential on every RPC (`Bearer <credential>`).
pub const AUTHORIZATION: &str = "authorization";

/// Command names announced in `Hello.capabilities`, as the snake_case `Command.kind` member.
pub mod capability {
    pub const PING: &str = "ping";
    pub const CENSUS: &str = "census";
    pub const DOCKER_CALL: &str = "docker_call";
    pub const LOGS_OPEN: &str = "logs_open";
    pub const EXEC_OPEN: &str = "exec_open";
    pub const COMPOSE_RUN: &str = "compose_run";
    pub const ARCHIVE_OPEN: &str = "archive_open";
}
