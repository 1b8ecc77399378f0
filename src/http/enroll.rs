//! `POST /api/enroll` (public): a worker trades the shared secret and its host's one-time token
//! for a node credential. Every attempt is logged with a reason code.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use contextbay_actors::Limit;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::secrets::{constant_time_eq, random_token, sha256_hex};
use crate::state::AppState;
use crate::store::hosts::{EnrollAttempt, TokenCheck};
use crate::store::now_ms;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub shared_secret: String,
    pub enroll_token: String,
    pub hostname: String,
    pub agent_version: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollResponse {
    pub node_id: String,
    /// The node credential for gRPC (`authorization: Bearer …`). Shown once.
    pub credential: String,
    pub grpc_url: String,
    pub heartbeat_interval_secs: u64,
}

/// Enrollments allowed per client IP per minute.
const PER_MINUTE: usize = 10;

#[utoipa::path(post, path = "/api/enroll", tag = "hosts", request_body = EnrollRequest,
    responses((status = 200, body = EnrollResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody, description = "refused; the reason code is in the message"),
              (status = 429, body = ErrorBody)))]
pub async fn enroll(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let ip = super::peer_ip(&req);
    let mut attempt = EnrollAttempt {
        id: String::new(),
        host_id: None,
        ts: now_ms(),
        source_ip: ip.clone(),
        hostname: None,
        accepted: false,
        reason: String::new(),
    };
    let result = decide(&state, &ip, &body, &mut attempt).await;
    attempt.accepted = result.is_ok();
    attempt.reason = match &result {
        Ok(_) => "accepted".into(),
        Err((reason, _)) => (*reason).into(),
    };
    if let Err(err) = state.store.hosts().record_attempt(&attempt).await {
        tracing::error!("recording enroll attempt: {err}");
    }
    state
        .events
        .publish_committed(crate::events::HostEnrollAttempt {
            host_id: attempt.host_id.clone(),
            accepted: attempt.accepted,
            reason: attempt.reason.clone(),
            source_ip: ip.clone(),
        })
        .await;
    match result {
        Ok(response) => Ok(HttpResponse::Ok()
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .json(response)),
        Err((_, err)) => Err(err),
    }
}

type Refusal = (&'static str, ApiError);

fn refused(reason: &'static str) -> Refusal {
    (
        reason,
        ApiError::unauthenticated(format!("enrollment refused: {reason}")),
    )
}

async fn decide(
    state: &AppState,
    ip: &Option<String>,
    body: &[u8],
    attempt: &mut EnrollAttempt,
) -> Result<EnrollResponse, Refusal> {
    let key = vec![(
        format!("enroll-ip:{}", ip.as_deref().unwrap_or_default()),
        Limit::new(PER_MINUTE, Duration::from_secs(60)),
    )];
    match state.throttle.attempt(key).await {
        Ok(None) => {}
        Ok(Some(wait)) => {
            return Err((
                "rate_limited",
                ApiError::rate_limited(wait.as_secs().max(1)),
            ));
        }
        Err(e) => return Err(("internal", ApiError::internal(e))),
    }
    let request: EnrollRequest = serde_json::from_slice(body).map_err(|e| {
        (
            "bad_request",
            ApiError::new(
                crate::error::ErrorCode::InvalidJson,
                format!("invalid JSON body: {e}"),
            ),
        )
    })?;
    if request.hostname.is_empty() || request.hostname.len() > 253 {
        return Err((
            "bad_request",
            ApiError::bad_request("hostname must be 1 to 253 characters"),
        ));
    }
    attempt.hostname = Some(request.hostname.clone());
    let token_hash = sha256_hex(request.enroll_token.as_bytes());
    let check = state
        .store
        .hosts()
        .check_token(&token_hash)
        .await
        .map_err(|e| ("internal", ApiError::from(e)))?;
    attempt.host_id = match &check {
        TokenCheck::Valid(id)
        | TokenCheck::Expired(id)
        | TokenCheck::Reused(id)
        | TokenCheck::Revoked(id) => Some(id.clone()),
        TokenCheck::Unknown => None,
    };
    // The secret is checked first so that a wrong secret never learns about tokens.
    if !constant_time_eq(
        request.shared_secret.as_bytes(),
        state.enroll_secret.as_bytes(),
    ) {
        return Err(refused("bad_secret"));
    }
    let host_id = match check {
        TokenCheck::Valid(id) => id,
        TokenCheck::Expired(_) => return Err(refused("token_expired")),
        TokenCheck::Reused(_) => return Err(refused("token_reused")),
        TokenCheck::Revoked(_) => return Err(refused("token_revoked")),
        TokenCheck::Unknown => return Err(refused("unknown_host")),
    };
    let credential = format!("cbn_{}", random_token(32));
    match state
        .store
        .hosts()
        .enroll(
            &host_id,
            &token_hash,
            &sha256_hex(credential.as_bytes()),
            &request.hostname,
        )
        .await
    {
        Ok(()) => {}
        Err(crate::store::StoreError::Conflict(_)) => return Err(refused("token_reused")),
        Err(e) => return Err(("internal", ApiError::from(e))),
    }
    state
        .nodes
        .add(contextbay_actors::NodeSeed {
            id: host_id.clone(),
            hostname: request.hostname.clone(),
        })
        .await
        .map_err(|e| ("internal", ApiError::from(e)))?;
    state
        .events
        .publish_committed(crate::events::HostEnrolled {
            host_id: host_id.clone(),
            hostname: request.hostname.clone(),
            agent_version: request.agent_version.clone(),
        })
        .await;
    Ok(EnrollResponse {
        node_id: host_id,
        credential,
        grpc_url: state.grpc_url(),
        heartbeat_interval_secs: state.config.fleet.heartbeat_interval_secs,
    })
}
