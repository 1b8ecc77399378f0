//! `/api/auth/*` and `/api/admin/secrets/rotate-jwt`.

use super::extract::Body;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use contextbay_actors::Limit;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::gate::set_actor;
use super::users::{UserView, validate_username};
use crate::auth::credentials::{REFRESH_COOKIE, SESSION_COOKIE};
use crate::auth::tokens::Rotation;
use crate::auth::{AuthMethod, Principal, password};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::secrets::random_token;
use crate::state::AppState;
use crate::store::users::User;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// 3 to 64 characters: letters, digits, `.`, `_`, `-`, `@`.
    #[schema(pattern = r"^[A-Za-z0-9._@-]{3,64}$")]
    pub username: String,
    /// At least 10 characters, at most 1024 bytes.
    #[schema(min_length = 10)]
    pub password: String,
}

/// Tokens for API clients; browsers get the same in HttpOnly cookies.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub user: UserView,
    /// Short-lived access JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Single-use refresh JWT for `POST /api/auth/refresh`; each use returns a new one.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// Omit to use the `cb_refresh` cookie.
    pub refresh_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: UserView,
    pub auth_method: AuthMethod,
}

/// Create the first admin. Works once; afterwards 409.
#[utoipa::path(post, path = "/api/auth/setup", tag = "auth", request_body = Credentials,
    responses((status = 201, body = TokenResponse), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body<Credentials>,
) -> ApiResult<HttpResponse> {
    let Credentials { username, password } = body.into_inner();
    validate_username(&username)?;
    password::check_policy(&password).map_err(ApiError::bad_request)?;
    if state.store.users().count().await? > 0 {
        return Err(ApiError::conflict("setup has already been completed"));
    }
    let hash = hash_password(&state, password).await?;
    let user = state
        .store
        .users()
        .create_first_admin(&username, &hash)
        .await?;
    state
        .events
        .publish_committed(crate::events::UserCreated {
            id: user.id.clone(),
            username: user.username.clone(),
            role: user.role,
        })
        .await;
    start_session(&req, &state, user, actix_web::http::StatusCode::CREATED).await
}

/// Log in with username and password.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = Credentials,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody, description = "too many failures; see Retry-After")))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body<Credentials>,
) -> ApiResult<HttpResponse> {
    let Credentials { username, password } = body.into_inner();
    if username.is_empty() || username.len() > 64 || password.len() > password::MAX_PASSWORD_BYTES {
        return Err(ApiError::unauthenticated(INVALID_LOGIN));
    }
    let ip = super::peer_ip(&req);
    // A cheap look first, so that a flood from a locked-out address costs no database reads.
    let early = LoginKeys::new(&state, ip.as_deref(), &username, true);
    if let Some(wait) = state.throttle.blocked(early.limits()).await? {
        return Err(throttled(&state, wait));
    }
    let found = state.store.users().find_by_username(&username).await?;
    let usual_address = match (&found, &ip) {
        (Some(u), Some(ip)) => {
            let days = state.config.auth.login_usual_address_days;
            let since = crate::store::now_ms()
                .saturating_sub(i64::try_from(days.saturating_mul(86_400_000)).unwrap_or(i64::MAX));
            state
                .store
                .sessions()
                .started_from(&u.user.id, ip, since)
                .await?
        }
        _ => false,
    };
    let keys = LoginKeys::new(&state, ip.as_deref(), &username, usual_address);
    // Counted before the password is checked, in one step with the check, so that N guesses sent
    // at once get at most the limit evaluated; a right password takes its count back.
    if let Some(wait) = state.throttle.attempt(keys.limits()).await? {
        return Err(throttled(&state, wait));
    }
    // Unknown users are checked against a dummy hash so both failures take the same time.
    let hash = found
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| state.dummy_hash.to_string());
    let matches = match state.passwords.verify(password, hash).await {
        Ok(m) => m,
        Err(e) => {
            // Not the caller's guess that failed: give the count back.
            state.throttle.refund(keys.names()).await?;
            return Err(pool_error(e));
        }
    };
    let user = match found {
        Some(u) if matches && !u.user.disabled && u.password_hash.is_some() => u.user,
        _ => {
            state
                .metrics
                .auth_failures
                .with_label_values(&["password"])
                .inc();
            return Err(ApiError::unauthenticated(INVALID_LOGIN));
        }
    };
    state.throttle.clear(keys.pair.0.clone()).await?;
    state.throttle.refund(keys.names()).await?;
    state.store.users().touch_login(&user.id).await?;
    state
        .events
        .publish_committed(crate::events::AuthLogin {
            user_id: user.id.clone(),
            username: user.username.clone(),
        })
        .await;
    start_session(&req, &state, user, actix_web::http::StatusCode::OK).await
}

const INVALID_LOGIN: &str = "invalid username or password";

/// The throttle keys a login counts against: the account from this address, the account from
/// everywhere (left out for the user's usual addresses, so an attacker elsewhere cannot lock the
/// user out), and the address whatever the account. All with backoff.
struct LoginKeys {
    pair: (String, Limit),
    account: Option<(String, Limit)>,
    address: (String, Limit),
}

impl LoginKeys {
    fn new(state: &AppState, ip: Option<&str>, username: &str, usual_address: bool) -> Self {
        let a = &state.config.auth;
        let window = Duration::from_secs(a.login_window_secs);
        let cap = Duration::from_secs(a.login_backoff_max_secs);
        let limit = |max| Limit::new(max, window).with_backoff(cap);
        let account = username.to_lowercase();
        let ip = ip.unwrap_or_default();
        Self {
            pair: (
                format!("login-account-ip:{account}|{ip}"),
                limit(a.login_max_failures_per_address),
            ),
            account: (!usual_address).then(|| {
                (
                    format!("login-account:{account}"),
                    limit(a.login_max_failures_per_account),
                )
            }),
            address: (format!("login-ip:{ip}"), limit(a.login_max_failures_per_ip)),
        }
    }

    fn limits(&self) -> Vec<(String, Limit)> {
        let mut keys = vec![self.pair.clone(), self.address.clone()];
        keys.extend(self.account.clone());
        keys
    }

    /// The keys a successful attempt gives its count back to (the pair is cleared instead).
    fn names(&self) -> Vec<String> {
        let mut names = vec![self.pair.0.clone(), self.address.0.clone()];
        names.extend(self.account.as_ref().map(|(k, _)| k.clone()));
        names
    }
}

/// A login refused by the throttle: 429 with Retry-After, counted as `throttled`.
fn throttled(state: &AppState, wait: Duration) -> ApiError {
    state
        .metrics
        .auth_failures
        .with_label_values(&["throttled"])
        .inc();
    ApiError::rate_limited(wait.as_secs().max(1))
}

/// The password pool's refusal as an answer: busy is a 503 with Retry-After.
fn pool_error(e: password::PoolError) -> ApiError {
    match e {
        password::PoolError::Busy => {
            let mut err = ApiError::new(crate::error::ErrorCode::ServiceUnavailable, e.to_string());
            err.retry_after = Some(1);
            err
        }
        other => ApiError::internal(other),
    }
}

/// Exchange a refresh token for a new pair. The presented token is used up; presenting it again
/// revokes the whole session.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body(content = RefreshRequest, description = "optional; the cb_refresh cookie is used when absent"),
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let parsed: RefreshRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RefreshRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                crate::error::ErrorCode::InvalidJson,
                format!("invalid JSON body: {e}"),
            )
        })?
    };
    let token = parsed
        .refresh_token
        .or_else(|| req.cookie(REFRESH_COOKIE).map(|c| c.value().to_owned()))
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "no refresh token: send refresh_token or the cb_refresh cookie",
            )
        })?;
    let claims = state
        .tokens
        .verify_refresh(&token)
        .map_err(|e| ApiError::unauthenticated(format!("invalid refresh token: {e}")))?;
    let session = match state.store.sessions().get(&claims.sid).await {
        Ok(s) => s,
        Err(crate::store::StoreError::NotFound(_)) => {
            return Err(ApiError::unauthenticated(
                "the session has ended; log in again",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if !session.is_live(crate::store::now_ms()) || session.user_id != claims.sub {
        return Err(ApiError::unauthenticated(
            "the session has ended; log in again",
        ));
    }
    let next_jti = random_token(16);
    let rotated = session.refresh_jti == claims.jti
        && state
            .store
            .sessions()
            .rotate(&session.id, &claims.jti, &next_jti)
            .await?;
    if !rotated {
        // RFC 6819 5.2.2.3 / OAuth 2.1: a refresh token used twice means it was stolen; end the
        // family so neither the thief nor the victim can go on with it.
        state
            .store
            .sessions()
            .revoke(&session.id, "refresh_reuse")
            .await?;
        state.sessions.revoke_auth_session(&session.id);
        state
            .events
            .publish_committed(crate::events::AuthRefreshReuse {
                user_id: session.user_id.clone(),
                session_id: session.id.clone(),
            })
            .await;
        return Err(ApiError::unauthenticated(
            "refresh token reuse detected; the session was revoked, log in again",
        ));
    }
    let user = state.store.users().get(&session.user_id).await?;
    if user.disabled {
        return Err(ApiError::unauthenticated(
            "the session has ended; log in again",
        ));
    }
    set_actor(&req, principal_for(&user, &session.id, AuthMethod::Jwt));
    let access = state
        .tokens
        .issue_access(&user.id, &session.id)
        .map_err(ApiError::internal)?;
    let refresh = state
        .tokens
        .issue_refresh(&user.id, &session.id, &next_jti)
        .map_err(ApiError::internal)?;
    Ok(token_response(
        &state,
        user,
        access,
        refresh,
        actix_web::http::StatusCode::OK,
    ))
}

/// End the current session: its refresh token and every access token issued for it stop working.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "the caller authenticated with an API key, not a login session")))]
pub async fn logout(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let Some(session_id) = principal.session_id else {
        return Err(ApiError::forbidden(
            "logout ends a login session; revoke an API key with DELETE /api/keys/{id}",
        ));
    };
    state.store.sessions().revoke(&session_id, "logout").await?;
    state.sessions.revoke_auth_session(&session_id);
    let mut res = HttpResponse::NoContent().finish();
    for cookie in [
        expired(SESSION_COOKIE, "/"),
        expired(REFRESH_COOKIE, "/api/auth"),
    ] {
        res.add_cookie(&cookie).map_err(ApiError::internal)?;
    }
    Ok(res)
}

/// The caller.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(state: web::Data<AppState>, principal: Principal) -> ApiResult<web::Json<Me>> {
    let user = state.store.users().get(&principal.user_id).await?;
    Ok(web::Json(Me {
        user: UserView {
            // An API key caller acts with the key's role, which may be lower than the user's.
            role: principal.role,
            ..UserView::from(user)
        },
        auth_method: principal.method,
    }))
}

/// Rotate the JWT signing key. Tokens signed with the previous key stay valid for
/// `auth.rotation_grace_secs`.
#[utoipa::path(post, path = "/api/admin/secrets/rotate-jwt", tag = "auth",
    responses((status = 200, body = Rotation), (status = 403, body = ErrorBody)))]
pub async fn rotate_jwt(state: web::Data<AppState>) -> ApiResult<web::Json<Rotation>> {
    let rotation = state
        .tokens
        .rotate(&state.store)
        .await
        .map_err(ApiError::internal)?;
    state
        .events
        .publish_committed(crate::events::AuthJwtRotated {
            kid: rotation.kid.clone(),
            previous_kid: rotation.previous_kid.clone(),
        })
        .await;
    Ok(web::Json(rotation))
}

/// Hashes a new password on the password pool.
pub(super) async fn hash_password(state: &AppState, password: String) -> ApiResult<String> {
    state.passwords.hash(password).await.map_err(pool_error)
}

fn principal_for(user: &User, session_id: &str, method: AuthMethod) -> Principal {
    Principal {
        user_id: user.id.clone(),
        username: user.username.clone(),
        role: user.role,
        method,
        session_id: Some(session_id.to_owned()),
        api_key_id: None,
    }
}

async fn start_session(
    req: &HttpRequest,
    state: &AppState,
    user: User,
    status: actix_web::http::StatusCode,
) -> ApiResult<HttpResponse> {
    let jti = random_token(16);
    let ua = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let session = state
        .store
        .sessions()
        .create(
            &user.id,
            &jti,
            state.tokens.refresh_ttl_secs() * 1000,
            super::peer_ip(req).as_deref(),
            ua,
        )
        .await?;
    set_actor(req, principal_for(&user, &session.id, AuthMethod::Jwt));
    let access = state
        .tokens
        .issue_access(&user.id, &session.id)
        .map_err(ApiError::internal)?;
    let refresh = state
        .tokens
        .issue_refresh(&user.id, &session.id, &jti)
        .map_err(ApiError::internal)?;
    Ok(token_response(state, user, access, refresh, status))
}

fn token_response(
    state: &AppState,
    user: User,
    access: String,
    refresh: String,
    status: actix_web::http::StatusCode,
) -> HttpResponse {
    let secure = state.config.secure_cookies();
    let session_cookie = Cookie::build(SESSION_COOKIE, access.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(
            state.tokens.access_ttl_secs(),
        ))
        .finish();
    let refresh_cookie = Cookie::build(REFRESH_COOKIE, refresh.clone())
        .path("/api/auth")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(
            state.tokens.refresh_ttl_secs(),
        ))
        .finish();
    HttpResponse::build(status)
        .cookie(session_cookie)
        .cookie(refresh_cookie)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(TokenResponse {
            user: UserView::from(user),
            access_token: access,
            refresh_token: refresh,
            token_type: "Bearer",
            expires_in: state.tokens.access_ttl_secs(),
        })
}

fn expired(name: &'static str, path: &'static str) -> Cookie<'static> {
    let mut c = Cookie::build(name, "")
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    c.make_removal();
    c
}
