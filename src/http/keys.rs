//! `/api/keys`: the caller's API keys.

use super::extract::Body;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Paginated, parse_path_id, ts};
use crate::auth::credentials::API_KEY_PREFIX;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::secrets::{random_token, sha256_hex};
use crate::state::AppState;
use crate::store::api_keys::ApiKey;
use crate::store::now_ms;

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The first characters of the key.
    pub prefix: String,
    pub role: Role,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            role: k.role,
            created_at: ts(k.created_at),
            last_used_at: k.last_used_at.map(ts),
            expires_at: k.expires_at.map(ts),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key_info: ApiKeyView,
    /// The key itself. Shown once: only its hash is stored.
    pub key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// 1 to 100 characters, not only spaces (leading and trailing spaces are dropped).
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// At most the caller's role; defaults to it.
    pub role: Option<Role>,
    /// 1 to 3650; omit for a key that does not expire.
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<i64>,
}

/// The caller's own API keys, a page at a time.
#[utoipa::path(get, path = "/api/keys", tag = "api-keys", params(super::PageQuery),
    responses((status = 200, body = Paginated<ApiKeyView>), (status = 401, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: super::extract::Query<super::PageQuery>,
) -> ApiResult<web::Json<Paginated<ApiKeyView>>> {
    let page = super::PageQuery::page(query.limit, query.offset)?;
    let keys = state
        .store
        .api_keys()
        .list_for_user(&principal.user_id)
        .await?;
    Ok(web::Json(Paginated::of_all(
        keys.into_iter().map(ApiKeyView::from).collect(),
        page,
    )))
}

#[utoipa::path(post, path = "/api/keys", tag = "api-keys", request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<CreateApiKey>,
) -> ApiResult<HttpResponse> {
    let CreateApiKey {
        name,
        role,
        expires_in_days,
    } = body.into_inner();
    // The limit applies to the name as sent (the document's maxLength), then spaces are dropped.
    let too_long = name.chars().count() > 100;
    let name = name.trim().to_owned();
    if name.is_empty() || too_long {
        return Err(ApiError::bad_request("name must be 1 to 100 characters"));
    }
    let role = role.unwrap_or(principal.role);
    if role > principal.role {
        return Err(ApiError::forbidden(format!(
            "a key cannot have more than your own role ({})",
            principal.role.as_str()
        )));
    }
    let expires_at = match expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(now_ms() + d * 86_400_000),
        Some(_) => {
            return Err(ApiError::bad_request(
                "expires_in_days must be between 1 and 3650",
            ));
        }
    };
    let secret = format!("{API_KEY_PREFIX}{}", random_token(32));
    let prefix: String = secret.chars().take(API_KEY_PREFIX.len() + 6).collect();
    let key = state
        .store
        .api_keys()
        .create(
            &principal.user_id,
            &name,
            &prefix,
            &sha256_hex(secret.as_bytes()),
            role,
            expires_at,
        )
        .await?;
    state
        .events
        .publish_committed(crate::events::ApiKeyCreated {
            id: key.id.clone(),
            user_id: key.user_id.clone(),
            name: key.name.clone(),
            role: key.role,
        })
        .await;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(CreatedApiKey {
            key_info: key.into(),
            key: secret,
        }))
}

/// Revoke one of your keys (admins may revoke anyone's).
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "api-keys", params(("id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_path_id("API key", &id)?;
    let key = state.store.api_keys().get(&id).await?;
    // Someone else's key is reported as missing, so ids cannot be probed.
    if key.user_id != principal.user_id && !principal.has(Role::Admin) {
        return Err(ApiError::not_found("API key not found"));
    }
    state.store.api_keys().revoke(&id).await?;
    state.sessions.revoke_api_key(&id);
    state
        .events
        .publish_committed(crate::events::ApiKeyRevoked {
            id: key.id.clone(),
            user_id: key.user_id.clone(),
        })
        .await;
    Ok(HttpResponse::NoContent().finish())
}
