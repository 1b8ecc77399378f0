//! The id of the request being served, a task-local set by the HTTP gate for each request.
//! Kept out of `http` so that the error table and domain code can log it without depending on
//! the HTTP layer.

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served (empty outside one).
pub fn request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Runs `fut` with `id` as the current request id.
pub async fn with_request_id<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}
