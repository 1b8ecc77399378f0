//! `POST /api/webhooks/alertmanager` (public route of the alerting module): Alertmanager's
//! webhook receiver. Alertmanager notifications (payload version 4) become stored alerts,
//! `alert.fired` / `alert.resolved` events and notifications.
//!
//! The caller proves itself with either
//! - `Authorization: Bearer <webhook_token>` (Alertmanager's `http_config.authorization`), or
//! - `X-ContextBay-Signature: sha256=<hex HMAC-SHA256 of the raw body with webhook_hmac_secret>`,
//!   for relays that sign what they forward.
//!
//! Without either secret configured the webhook answers 503: it never accepts unauthenticated
//! notifications.

use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use actix_web::{HttpRequest, web};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::integrations::ModuleSettings;
use crate::modules::ModuleName;
use crate::modules::alerting::ingest::{self, IngestSummary, WebhookPayload};
use crate::secrets::constant_time_eq;
use crate::state::AppState;

/// The signature header (lowercase, as actix normalises header names).
pub const SIGNATURE_HEADER: &str = "x-contextbay-signature";

/// Whether the request carries the configured bearer token or a valid body signature.
fn authenticated(
    req: &HttpRequest,
    body: &[u8],
    token: Option<&str>,
    hmac_secret: Option<&str>,
) -> bool {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let (Some(token), Some(presented)) = (
        token,
        header(AUTHORIZATION.as_str()).and_then(|h| h.strip_prefix("Bearer ")),
    ) && constant_time_eq(presented.trim().as_bytes(), token.as_bytes())
    {
        return true;
    }
    if let (Some(secret), Some(signature)) = (
        hmac_secret,
        header(SIGNATURE_HEADER).and_then(|h| h.strip_prefix("sha256=")),
    ) && let Ok(presented) = hex::decode(signature.trim())
        && let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
    {
        mac.update(body);
        return mac.verify_slice(&presented).is_ok();
    }
    false
}

/// Receive an Alertmanager notification.
#[utoipa::path(post, path = "/api/webhooks/alertmanager", tag = "alerting",
    request_body(content = WebhookPayload, description = "Alertmanager webhook payload, version 4"),
    responses((status = 200, body = IngestSummary), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<web::Json<IngestSummary>> {
    let settings = ModuleSettings::load(&state, ModuleName::Alerting).await?;
    let token = settings.text("webhook_token");
    let hmac_secret = settings.text("webhook_hmac_secret");
    if token.is_none() && hmac_secret.is_none() {
        return Err(ApiError::new(
            ErrorCode::ServiceUnavailable,
            "the alertmanager webhook is not configured: set webhook_token (or \
             webhook_hmac_secret) with PUT /api/config/alerting",
        ));
    }
    if !authenticated(&req, &body, token, hmac_secret) {
        return Err(ApiError::unauthenticated(
            "invalid webhook credentials: send Authorization: Bearer <webhook_token> or a valid \
             X-ContextBay-Signature",
        ));
    }
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "expected a JSON body with Content-Type: application/json",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let payload: WebhookPayload = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::new(
            ErrorCode::InvalidJson,
            if path == "." {
                format!("invalid webhook payload: {}", e.into_inner())
            } else {
                format!("invalid webhook payload at '{path}': {}", e.into_inner())
            },
        )
    })?;
    let incoming = ingest::validate(payload)
        .map_err(|e| ApiError::bad_request(format!("invalid webhook payload: {e}")))?;
    let summary = ingest::ingest(&state, &incoming).await?;
    Ok(web::Json(summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn bearer_or_signature() {
        let body = br#"{"version":"4"}"#;
        let bearer = TestRequest::default()
            .insert_header(("authorization", "Bearer t0k3n"))
            .to_http_request();
        assert!(authenticated(&bearer, body, Some("t0k3n"), None));
        assert!(!authenticated(&bearer, body, Some("other"), None));
        assert!(!authenticated(&bearer, body, None, Some("s")));
        let signed = TestRequest::default()
            .insert_header((SIGNATURE_HEADER, sign("s3cret", body)))
            .to_http_request();
        assert!(authenticated(&signed, body, None, Some("s3cret")));
        assert!(!authenticated(&signed, b"tampered", None, Some("s3cret")));
        assert!(!authenticated(&signed, body, Some("t0k3n"), None));
        let none = TestRequest::default().to_http_request();
        assert!(!authenticated(&none, body, Some("t0k3n"), Some("s3cret")));
    }
}
