//! The master's gRPC side for workers: `NodeService` and `CommandService` (proto
//! `contextbay.v1`). Every RPC is authenticated with the node credential from enrollment.

mod command_service;
mod node_service;
pub mod tls;

use std::net::TcpListener;

use anyhow::Context;
use contextbay_proto::v1::command_service_server::CommandServiceServer;
use contextbay_proto::v1::node_service_server::NodeServiceServer;
use tokio::sync::watch;
use tonic::{Request, Status};

use crate::secrets::sha256_hex;
use crate::state::AppState;

pub use command_service::CommandApi;
pub use node_service::NodeApi;

/// Why a worker's call is refused. Handlers return it with `?`; the error table
/// (`crate::error`) maps it to a `tonic::Status` with the same code and message conventions as
/// the REST API.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("this credential belongs to node {authenticated}, not {claimed}")]
    WrongNode {
        authenticated: String,
        claimed: String,
    },
    #[error("{0}")]
    Invalid(String),
    /// The call needs a registration (or an attachment) the node has not made.
    #[error("{0}")]
    NotRegistered(String),
    #[error("{0}")]
    Unavailable(String),
    /// Logged by the table; the worker is told only "internal error".
    #[error("{0}")]
    Internal(String),
}

impl RpcError {
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

/// Binds nothing itself: serves on `listener` until `shutdown` flips.
pub fn spawn(
    state: AppState,
    listener: TcpListener,
    tls: Option<&tls::GrpcTls>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener).context("gRPC listener")?;
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        let identity = tonic::transport::Identity::from_pem(&tls.cert_pem, &tls.key_pem);
        builder = builder
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .context("gRPC TLS configuration")?;
    }
    let server = builder
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        .add_service(NodeServiceServer::new(NodeApi::new(state.clone())))
        .add_service(CommandServiceServer::new(CommandApi::new(state)));
    Ok(tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|s| *s).await;
        };
        if let Err(err) = server.serve_with_incoming_shutdown(incoming, stop).await {
            tracing::error!(%err, "gRPC server");
        }
    }))
}

/// The node a request's credential belongs to, or `UNAUTHENTICATED` (counted).
pub(crate) async fn authenticate<T>(state: &AppState, req: &Request<T>) -> Result<String, Status> {
    let deny = |why: &str| {
        state.metrics.grpc_unauthenticated.inc();
        Status::from(RpcError::Unauthenticated(why.to_owned()))
    };
    let header = req
        .metadata()
        .get(contextbay_proto::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| deny("missing node credential"))?;
    let credential = header
        .strip_prefix("Bearer ")
        .ok_or_else(|| deny("the authorization metadata must be 'Bearer <node credential>'"))?;
    if credential.len() > 256 {
        return Err(deny("invalid node credential"));
    }
    let node = state
        .store
        .hosts()
        .node_for_credential(&sha256_hex(credential.as_bytes()))
        .await
        .map_err(|e| RpcError::internal(format!("authentication: {e}")))?;
    node.ok_or_else(|| deny("unknown or revoked node credential"))
}

/// A request's own `node_id` must be empty or the authenticated node's.
pub(crate) fn check_node_id(authenticated: &str, claimed: &str) -> Result<(), Status> {
    if claimed.is_empty() || claimed == authenticated {
        Ok(())
    } else {
        Err(RpcError::WrongNode {
            authenticated: authenticated.to_owned(),
            claimed: claimed.to_owned(),
        }
        .into())
    }
}
