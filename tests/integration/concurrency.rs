//! Rules that span several rows ("at least one enabled admin", "at most N API keys per user")
//! hold under concurrent writers, on the suite's engine. On SQLite the single writer connection
//! serialises the transactions anyway; on PostgreSQL (`CB_TEST_STORE=postgres`) each transaction
//! counts in its own snapshot, which is what these tests catch.

use contextbay::auth::Role;
use contextbay::store::StoreError;
use contextbay::store::api_keys::MAX_KEYS_PER_USER;
use contextbay::store::users::UserUpdate;
use futures_util::future::join_all;

use super::harness::{PASSWORD, TestServer};

#[actix_web::test]
async fn concurrent_demotions_never_leave_no_enabled_admin() {
    let s = TestServer::start().await;
    let store = s.state().store.clone();
    let hash = contextbay::auth::password::hash(PASSWORD).unwrap();
    let mut survivor = store
        .users()
        .create("admin-0", &hash, Role::Admin)
        .await
        .unwrap();
    for round in 1..=10 {
        let other = store
            .users()
            .create(&format!("admin-{round}"), &hash, Role::Admin)
            .await
            .unwrap();
        // The two enabled admins, each demoted (one losing the role, one disabled) at once.
        let demote = UserUpdate {
            role: Some(Role::Operator),
            ..UserUpdate::default()
        };
        let disable = UserUpdate {
            disabled: Some(true),
            ..UserUpdate::default()
        };
        let users = store.users();
        let (a, b) = futures_util::join!(
            users.update(&survivor.id, &demote),
            users.update(&other.id, &disable)
        );
        let refused = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
            .count();
        assert_eq!(
            refused, 1,
            "round {round}: exactly one refused: {a:?} / {b:?}"
        );
        survivor = if a.is_ok() { other } else { survivor };
        let admins = store
            .users()
            .list(
                contextbay::store::Page {
                    limit: 500,
                    offset: 0,
                },
                None,
            )
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|u| u.role == Role::Admin && !u.disabled)
            .count();
        assert_eq!(admins, 1, "round {round}");
    }
    s.stop().await;
}

#[actix_web::test]
async fn concurrent_key_creations_respect_the_per_user_limit() {
    let s = TestServer::start().await;
    let store = s.state().store.clone();
    let hash = contextbay::auth::password::hash(PASSWORD).unwrap();
    let user = store
        .users()
        .create("many-keys", &hash, Role::Operator)
        .await
        .unwrap();
    let tries = usize::try_from(MAX_KEYS_PER_USER).unwrap() + 20;
    let created = join_all((0..tries).map(|i| {
        let (store, user) = (store.clone(), user.id.clone());
        async move {
            store
                .api_keys()
                .create(
                    &user,
                    &format!("k{i}"),
                    &format!("cb_{i:06}"),
                    &format!("hash-{i}"),
                    Role::Viewer,
                    None,
                )
                .await
        }
    }))
    .await;
    let ok = created.iter().filter(|r| r.is_ok()).count();
    let refused = created
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!(
        (ok, refused),
        (usize::try_from(MAX_KEYS_PER_USER).unwrap(), 20),
        "{:?}",
        created.iter().filter(|r| r.is_err()).collect::<Vec<_>>()
    );
    s.stop().await;
}
