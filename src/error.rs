//! One error type for every transport: the error table. Each [`ErrorCode`] knows its HTTP status,
//! its gRPC code and a stable string; HTTP bodies are
//! `{"error": "...", "code": "...", "request_id": "..."}` (plus `"field"` when one input field is
//! at fault), gRPC statuses carry the same message
//! and the stable string in the `contextbay-error-code` metadata.
//!
//! Domain code does not build [`ApiError`]s: it returns its own `thiserror` enums, and each is
//! mapped into the table here, once, with a `From` impl (see the end of this file).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// The stable error codes. Add a code here, never a bare status elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    InvalidJson,
    PayloadTooLarge,
    Unauthenticated,
    Forbidden,
    NotFound,
    ModuleDisabled,
    MethodNotAllowed,
    Conflict,
    RateLimited,
    ServiceUnavailable,
    /// A worker or external service answered with an error.
    RemoteFailed,
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::InvalidJson | Self::PayloadTooLarge => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound | Self::ModuleDisabled => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::RemoteFailed => StatusCode::BAD_GATEWAY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC code for the same condition. `Conflict` is `FAILED_PRECONDITION` (the resource
    /// is not in the state the call needs), `RemoteFailed` is `UNKNOWN` (another service's
    /// error, not safe to retry blindly as `UNAVAILABLE` would suggest), `MethodNotAllowed` is
    /// `UNIMPLEMENTED`.
    pub fn grpc_code(self) -> tonic::Code {
        use tonic::Code;
        match self {
            Self::BadRequest | Self::InvalidJson => Code::InvalidArgument,
            Self::PayloadTooLarge | Self::RateLimited => Code::ResourceExhausted,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::Forbidden => Code::PermissionDenied,
            Self::NotFound | Self::ModuleDisabled => Code::NotFound,
            Self::MethodNotAllowed => Code::Unimplemented,
            Self::Conflict => Code::FailedPrecondition,
            Self::ServiceUnavailable => Code::Unavailable,
            Self::RemoteFailed => Code::Unknown,
            Self::Internal => Code::Internal,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::InvalidJson => "invalid_json",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::ModuleDisabled => "module_disabled",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::RateLimited => "rate_limited",
            Self::ServiceUnavailable => "service_unavailable",
            Self::RemoteFailed => "remote_failed",
            Self::Internal => "internal",
        }
    }
}

/// An error on its way to a client. The message is shown as is, so it must never carry internals:
/// use [`ApiError::internal`] for anything unexpected, which logs the cause and says only
/// "internal error".
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
    /// The one input field at fault, when there is one: a body field as a path
    /// (`ports[0].host`), or a query or path parameter's name.
    pub field: Option<String>,
}

/// The JSON error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub error: String,
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// The request id, also in the `x-request-id` header and the server log.
    pub request_id: String,
    /// The input field at fault, when the error is about one: a body field as a path
    /// (`name`, `ports[0].host`), or the name of a query or path parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
            field: None,
        }
    }

    /// A 400 about one input field, named in the body's `field`.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::bad_request(message).with_field(field)
    }

    /// The same error, naming the input field at fault.
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            message: format!("too many attempts; retry in {retry_after_secs} s"),
            retry_after: Some(retry_after_secs),
            field: None,
        }
    }

    /// Logs `cause` with the request id and answers a bare 500.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = %crate::request_id::request_id(), "internal error: {cause:#}");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after {
            builder.insert_header(("Retry-After", secs.to_string()));
        }
        if self.code == ErrorCode::Unauthenticated {
            builder.insert_header(("WWW-Authenticate", "Bearer"));
        }
        builder.json(ErrorBody {
            error: self.message.clone(),
            code: self.code,
            request_id: crate::request_id::request_id(),
            field: self.field.clone(),
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Metadata key of a gRPC error's stable code (the `code` of an HTTP error body).
pub const GRPC_CODE_METADATA: &str = "contextbay-error-code";

/// The same error for a gRPC caller: the table's code, the same message (an `Internal` error
/// says only "internal error"; its cause was logged when it was made), `Retry-After` as
/// `retry-after` metadata.
impl From<ApiError> for tonic::Status {
    fn from(err: ApiError) -> Self {
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert(
            GRPC_CODE_METADATA,
            tonic::metadata::MetadataValue::from_static(err.code.as_str()),
        );
        if let Some(secs) = err.retry_after {
            metadata.insert("retry-after", secs.into());
        }
        tonic::Status::with_metadata(err.code.grpc_code(), err.message, metadata)
    }
}

// The domain errors, each mapped into the table once.

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        // The database is down or restarting (PostgreSQL): a 503 to retry, not an internal
        // error. The pool reconnects by itself once it is back.
        if crate::store::unavailable(&err) {
            tracing::warn!(%err, "the database is unavailable");
            let mut api = Self::new(
                ErrorCode::ServiceUnavailable,
                "the database is unavailable; try again shortly",
            );
            api.retry_after = Some(5);
            return api;
        }
        Self::internal(format!("database: {err}"))
    }
}

impl From<contextbay_actors::ActorError> for ApiError {
    fn from(err: contextbay_actors::ActorError) -> Self {
        Self::internal(err)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match err {
            StoreError::NotFound(what) => Self::not_found(format!("{what} not found")),
            StoreError::Conflict(msg) => Self::conflict(msg),
            StoreError::Invalid(msg) => Self::bad_request(msg),
            StoreError::Database(e) => Self::from(e),
            StoreError::Other(e) => Self::internal(format!("{e:#}")),
        }
    }
}

impl From<crate::users::UserRuleError> for ApiError {
    fn from(err: crate::users::UserRuleError) -> Self {
        Self::bad_request(err.to_string())
    }
}

impl From<crate::modules::ModuleError> for ApiError {
    fn from(err: crate::modules::ModuleError) -> Self {
        use crate::modules::ModuleError;
        match err {
            ModuleError::Invalid(message) => Self::bad_request(message),
            ModuleError::InvalidField { field, message } => Self::invalid_field(field, message),
            ModuleError::NotFound(what) => Self::not_found(format!("{what} not found")),
            ModuleError::Integration(e) => e.into(),
            ModuleError::Store(e) => e.into(),
            ModuleError::Internal(message) => Self::internal(message),
        }
    }
}

impl From<crate::integrations::IntegrationError> for ApiError {
    fn from(err: crate::integrations::IntegrationError) -> Self {
        use crate::integrations::IntegrationError;
        let message = err.to_string();
        match err {
            IntegrationError::NotConfigured { .. } | IntegrationError::Unreachable { .. } => {
                Self::new(ErrorCode::ServiceUnavailable, message)
            }
            IntegrationError::TooLarge { .. } => Self::bad_request(message),
            IntegrationError::Remote {
                service,
                status,
                message,
            } => match status {
                400 | 422 => Self::bad_request(format!("{service} refused the request: {message}")),
                404 => Self::not_found(format!("{service}: {message}")),
                409 | 412 => Self::conflict(format!("{service}: {message}")),
                401 | 403 => Self::new(
                    ErrorCode::RemoteFailed,
                    format!(
                        "{service} refused ContextBay's credentials ({status}: {message}); check \
                         the token in the module configuration"
                    ),
                ),
                _ => Self::new(
                    ErrorCode::RemoteFailed,
                    format!("{service} failed ({status}): {message}"),
                ),
            },
            IntegrationError::BadAnswer { .. } => Self::new(ErrorCode::RemoteFailed, message),
        }
    }
}

impl From<crate::grpc::RpcError> for ApiError {
    fn from(err: crate::grpc::RpcError) -> Self {
        use crate::grpc::RpcError;
        match err {
            RpcError::Unauthenticated(why) => Self::unauthenticated(why),
            RpcError::WrongNode { .. } => Self::forbidden(err.to_string()),
            RpcError::Invalid(why) => Self::bad_request(why),
            RpcError::NotRegistered(why) => Self::conflict(why),
            RpcError::Unavailable(why) => Self::new(ErrorCode::ServiceUnavailable, why),
            RpcError::Internal(cause) => Self::internal(format!("gRPC: {cause}")),
        }
    }
}

/// gRPC handlers return [`tonic::Status`]; their domain errors reach it through the table.
impl From<crate::grpc::RpcError> for tonic::Status {
    fn from(err: crate::grpc::RpcError) -> Self {
        ApiError::from(err).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorCode; 13] = [
        ErrorCode::BadRequest,
        ErrorCode::InvalidJson,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::ModuleDisabled,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::RateLimited,
        ErrorCode::ServiceUnavailable,
        ErrorCode::RemoteFailed,
        ErrorCode::Internal,
    ];

    #[test]
    fn every_code_has_an_error_status_and_a_unique_string() {
        let mut seen = std::collections::HashSet::new();
        for code in ALL {
            assert!(code.status().is_client_error() || code.status().is_server_error());
            assert!(seen.insert(code.as_str()));
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
        }
    }

    #[test]
    fn every_code_has_a_grpc_code_consistent_with_its_http_status() {
        for code in ALL {
            let grpc = code.grpc_code();
            assert_ne!(grpc, tonic::Code::Ok, "{code:?}");
            // Client errors stay the caller's fault in gRPC terms, server errors the server's.
            let server_side = matches!(
                grpc,
                tonic::Code::Internal | tonic::Code::Unavailable | tonic::Code::Unknown
            );
            assert_eq!(
                server_side,
                code.status().is_server_error(),
                "{code:?} is {grpc:?} but HTTP {}",
                code.status()
            );
        }
    }

    #[test]
    fn an_api_error_becomes_a_status_with_the_same_message_and_code() {
        let status = tonic::Status::from(ApiError::forbidden("not yours"));
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert_eq!(status.message(), "not yours");
        assert_eq!(
            status
                .metadata()
                .get(GRPC_CODE_METADATA)
                .and_then(|v| v.to_str().ok()),
            Some("forbidden")
        );
        let limited = tonic::Status::from(ApiError::rate_limited(7));
        assert_eq!(limited.code(), tonic::Code::ResourceExhausted);
        assert_eq!(
            limited
                .metadata()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("7")
        );
    }

    #[test]
    fn internal_errors_never_leak_their_cause() {
        let status = tonic::Status::from(crate::grpc::RpcError::internal("db at /var/secret"));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), "internal error");
        let api = ApiError::from(crate::store::StoreError::Other(anyhow::anyhow!(
            "/var/secret"
        )));
        assert_eq!(api.code, ErrorCode::Internal);
        assert_eq!(api.message, "internal error");
    }

    #[test]
    fn grpc_errors_keep_their_codes() {
        use crate::grpc::RpcError;
        let cases = [
            (
                RpcError::Unauthenticated("no".into()),
                tonic::Code::Unauthenticated,
            ),
            (
                RpcError::WrongNode {
                    authenticated: "a".into(),
                    claimed: "b".into(),
                },
                tonic::Code::PermissionDenied,
            ),
            (
                RpcError::Invalid("bad".into()),
                tonic::Code::InvalidArgument,
            ),
            (
                RpcError::NotRegistered("register first".into()),
                tonic::Code::FailedPrecondition,
            ),
            (
                RpcError::Unavailable("down".into()),
                tonic::Code::Unavailable,
            ),
        ];
        for (err, code) in cases {
            let message = err.to_string();
            let status = tonic::Status::from(err);
            assert_eq!(status.code(), code);
            assert_eq!(status.message(), message);
        }
    }

    #[test]
    fn user_rule_errors_are_bad_requests() {
        let err = ApiError::from(crate::users::validate_username("x").unwrap_err());
        assert_eq!(err.code, ErrorCode::BadRequest);
        assert_eq!(err.message, "username must be 3 to 64 characters");
    }

    #[test]
    fn integration_errors_map_to_the_documented_statuses() {
        use crate::integrations::IntegrationError;
        let unconfigured: ApiError = IntegrationError::NotConfigured {
            service: "prometheus",
            hint: "set prometheus_url",
        }
        .into();
        assert_eq!(unconfigured.code, ErrorCode::ServiceUnavailable);
        assert!(
            unconfigured
                .message
                .starts_with("prometheus is not configured")
        );
        let missing: ApiError = IntegrationError::Remote {
            service: "grafana",
            status: 404,
            message: "Dashboard not found".into(),
        }
        .into();
        assert_eq!(missing.code, ErrorCode::NotFound);
        let too_big: ApiError = IntegrationError::TooLarge {
            service: "prometheus",
            limit: 10,
        }
        .into();
        assert_eq!(too_big.code, ErrorCode::BadRequest);
    }
}
