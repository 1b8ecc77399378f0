//! `/api/users` (admin).

use super::extract::{Body, Query};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Paginated, parse_path_id, ts};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::store::users::{User, UserUpdate};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
    pub last_login_at: Option<String>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            username: u.username,
            role: u.role,
            disabled: u.disabled,
            created_at: ts(u.created_at),
            updated_at: ts(u.updated_at),
            last_login_at: u.last_login_at.map(ts),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// 3 to 64 characters: letters, digits, `.`, `_`, `-`, `@`.
    #[schema(pattern = r"^[A-Za-z0-9._@-]{3,64}$")]
    pub username: String,
    /// At least 10 characters, at most 1024 bytes.
    #[schema(min_length = 10)]
    pub password: String,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub role: Option<Role>,
    /// At least 10 characters, at most 1024 bytes.
    #[schema(min_length = 10)]
    pub password: Option<String>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListUsers {
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    #[param(minimum = 0, default = 0)]
    pub offset: Option<i64>,
    /// Substring of the username.
    pub q: Option<String>,
}

/// The username rule of [`crate::users::validate_username`] as an API error (400).
pub fn validate_username(name: &str) -> ApiResult<()> {
    Ok(crate::users::validate_username(name)?)
}

#[utoipa::path(get, path = "/api/users", tag = "users", params(ListUsers),
    responses((status = 200, body = Paginated<UserView>), (status = 403, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListUsers>,
) -> ApiResult<web::Json<Paginated<UserView>>> {
    let page = super::PageQuery::page(query.limit, query.offset)?;
    let result = state.store.users().list(page, query.q.as_deref()).await?;
    Ok(web::Json(Paginated {
        items: result.items.into_iter().map(UserView::from).collect(),
        total: result.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

#[utoipa::path(post, path = "/api/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(state: web::Data<AppState>, body: Body<CreateUser>) -> ApiResult<HttpResponse> {
    let CreateUser {
        username,
        password,
        role,
    } = body.into_inner();
    validate_username(&username)?;
    crate::users::validate_password(&password)?;
    if state
        .store
        .users()
        .find_by_username(&username)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(format!(
            "username '{username}' is already taken"
        )));
    }
    let hash = super::auth::hash_password(&state, password).await?;
    let user = state.store.users().create(&username, &hash, role).await?;
    state
        .events
        .publish_committed(crate::events::UserCreated {
            id: user.id.clone(),
            username: user.username.clone(),
            role: user.role,
        })
        .await;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

#[utoipa::path(get, path = "/api/users/{id}", tag = "users", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<UserView>> {
    let id = parse_path_id("user", &id)?;
    Ok(web::Json(state.store.users().get(&id).await?.into()))
}

/// Change role, password or disabled state. A new password or disabling ends the user's sessions.
#[utoipa::path(put, path = "/api/users/{id}", tag = "users", params(("id" = String, Path, format = Uuid)), request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "would leave no enabled admin")))]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: Body<UpdateUser>,
) -> ApiResult<web::Json<UserView>> {
    let id = parse_path_id("user", &id)?;
    let UpdateUser {
        role,
        password,
        disabled,
    } = body.into_inner();
    if role.is_none() && password.is_none() && disabled.is_none() {
        // Nothing to change: the user as it is (404 when there is none).
        let user = state.store.users().get(&id).await?;
        return Ok(web::Json(user.into()));
    }
    if id == principal.user_id && disabled == Some(true) {
        return Err(ApiError::conflict("you cannot disable your own account"));
    }
    let password_hash = match password {
        Some(p) => {
            crate::users::validate_password(&p)?;
            Some(super::auth::hash_password(&state, p).await?)
        }
        None => None,
    };
    let user = state
        .store
        .users()
        .update(
            &id,
            &UserUpdate {
                role,
                password_hash,
                disabled,
            },
        )
        .await?;
    state
        .sessions
        .user_changed(&user.id, Some(user.role.as_str().to_owned()), user.disabled);
    state
        .events
        .publish_committed(crate::events::UserUpdated {
            id: user.id.clone(),
            username: user.username.clone(),
            role: user.role,
            disabled: user.disabled,
        })
        .await;
    Ok(web::Json(user.into()))
}

#[utoipa::path(delete, path = "/api/users/{id}", tag = "users", params(("id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_path_id("user", &id)?;
    if id == principal.user_id {
        return Err(ApiError::conflict("you cannot delete your own account"));
    }
    let user = state.store.users().delete(&id).await?;
    state.sessions.user_changed(&user.id, None, true);
    state
        .events
        .publish_committed(crate::events::UserDeleted {
            id: user.id.clone(),
            username: user.username.clone(),
        })
        .await;
    Ok(HttpResponse::NoContent().finish())
}
