//! The rules a user account must follow, shared by the REST handlers, the import and the
//! `contextbay admin` commands. Errors are a domain enum; the error table maps them to 400.

use crate::auth::password;

/// Why a username or a new password is refused; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserRuleError {
    #[error("{0}")]
    Username(&'static str),
    #[error("{0}")]
    Password(String),
}

/// 3 to 64 characters: letters, digits, `.`, `_`, `-`, `@`.
pub fn validate_username(name: &str) -> Result<(), UserRuleError> {
    let len = name.chars().count();
    if !(3..=64).contains(&len) {
        return Err(UserRuleError::Username(
            "username must be 3 to 64 characters",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(UserRuleError::Username(
            "username may contain only letters, digits, '.', '_', '-' and '@'",
        ));
    }
    Ok(())
}

/// A new password: the length policy of [`password::check_policy`].
pub fn validate_password(password: &str) -> Result<(), UserRuleError> {
    password::check_policy(password).map_err(UserRuleError::Password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_documented_rule() {
        assert!(validate_username("alice.o-k_1@x").is_ok());
        assert_eq!(
            validate_username("al"),
            Err(UserRuleError::Username(
                "username must be 3 to 64 characters"
            ))
        );
        assert!(validate_username(&"a".repeat(65)).is_err());
        assert!(validate_username("bad name").is_err());
        assert!(validate_username("ünï").is_err());
    }

    #[test]
    fn passwords_follow_the_policy() {
        assert!(validate_password("long enough pw").is_ok());
        assert!(
            validate_password("short")
                .unwrap_err()
                .to_string()
                .contains("at least")
        );
    }
}
