//! Request extractors whose errors name the offending field: `Body<T>` for JSON bodies and
//! `Query<T>` for query strings (actix's own report serde's message without the path).

use actix_web::dev::Payload;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// A JSON request body, limited to `server.max_body_bytes`.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T> Body<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("request body is larger than the limit of {limit} bytes"),
    )
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(1024 * 1024, |s| s.config.server.max_body_bytes);
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let is_json = content_type.starts_with("application/json")
            || content_type
                .split(';')
                .next()
                .is_some_and(|m| m.trim().ends_with("+json"));
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(
                    ErrorCode::InvalidJson,
                    "expected a JSON body with Content-Type: application/json",
                ));
            }
            if declared.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            let bytes = bytes.await.map_err(|_| too_large(limit))?;
            if bytes.len() > limit {
                return Err(too_large(limit));
            }
            let de = &mut serde_json::Deserializer::from_slice(&bytes);
            serde_path_to_error::deserialize(de).map(Body).map_err(|e| {
                let path = e.path().to_string();
                let detail = e.into_inner().to_string();
                let message = if path == "." {
                    format!("invalid JSON body: {detail}")
                } else {
                    format!("invalid JSON body at '{path}': {detail}")
                };
                let err = ApiError::new(ErrorCode::InvalidJson, message);
                match field_at_fault(&path, &detail) {
                    Some(field) => err.with_field(field),
                    None => err,
                }
            })
        })
    }
}

/// Query-string parameters.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(req.query_string()));
        std::future::ready(
            serde_path_to_error::deserialize(de)
                .map(Query)
                .map_err(|e| {
                    let path = e.path().to_string();
                    let detail = e.into_inner().to_string();
                    let err = ApiError::bad_request(if path == "." {
                        format!("invalid query string: {detail}")
                    } else {
                        format!("invalid query parameter '{path}': {detail}")
                    });
                    match field_at_fault(&path, &detail) {
                        Some(field) => err.with_field(field),
                        None => err,
                    }
                }),
        )
    }
}

/// The input field a deserialization error is about: serde's path to the value that failed
/// (`ports[0].host`), or, for a missing or unknown field (reported at the enclosing object), that
/// object's path joined with the field named in serde's message. `None` for the whole input
/// (malformed JSON, wrong top-level type).
fn field_at_fault(path: &str, detail: &str) -> Option<String> {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| detail.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next())
        .filter(|name| !name.is_empty());
    match (path, named) {
        (".", Some(name)) => Some(name.to_owned()),
        (".", None) => None,
        (path, Some(name)) => Some(format!("{path}.{name}")),
        (path, None) => Some(path.to_owned()),
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::field_at_fault;

    #[test]
    fn the_field_at_fault_is_the_path_or_the_named_field() {
        assert_eq!(
            field_at_fault(".", "expected value at line 1 column 1"),
            None
        );
        assert_eq!(
            field_at_fault(".", "missing field `username` at line 1 column 2").as_deref(),
            Some("username")
        );
        assert_eq!(
            field_at_fault("spec", "unknown field `bogus`, expected one of `image`").as_deref(),
            Some("spec.bogus")
        );
        assert_eq!(
            field_at_fault("ports[0].host", "invalid type: string \"x\", expected u16").as_deref(),
            Some("ports[0].host")
        );
        assert_eq!(
            field_at_fault("limit", "invalid digit found in string").as_deref(),
            Some("limit")
        );
    }
}
