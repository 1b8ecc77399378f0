//! What the sub-container domain code answers when it fails (mapped once into the error table
//! in `http.rs`).

use contextbay_actors::SubmitError;

use crate::endpoints::EndpointError;
use crate::stacks::StackError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SubError {
    /// An unknown service, or one that is not deployed (404 naming it).
    #[error("{0}")]
    NotFound(String),
    /// A field of the request (400 naming it).
    #[error("{message}")]
    InvalidField { field: String, message: String },
    /// The request does not fit the service's state (409).
    #[error("{0}")]
    Conflict(String),
    /// Another operation runs on the service (409 naming it).
    #[error(transparent)]
    Busy(#[from] SubmitError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
}
