//! Who is calling and what they may do: roles, principals, passwords, tokens, credential checks.

pub mod credentials;
pub mod password;
pub mod tokens;

use serde::{Deserialize, Serialize};

/// admin ⊇ operator ⊇ viewer. The derived order is the permission order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The spec's one-letter code (`r`, `w`, `a`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Viewer => "r",
            Self::Operator => "w",
            Self::Admin => "a",
        }
    }
}

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// `Authorization: Bearer <access token>`.
    Jwt,
    /// The `cb_session` cookie.
    Cookie,
    /// `X-API-Key: cb_…`.
    ApiKey,
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub username: String,
    /// Effective role: the user's role, capped by the API key's role for key callers.
    pub role: Role,
    pub method: AuthMethod,
    pub session_id: Option<String>,
    pub api_key_id: Option<String>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.role >= role
    }
}
