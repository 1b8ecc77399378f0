//! Setup, login, refresh rotation and reuse detection, logout, cookies, JWT negatives, brute
//! force, rotation of the signing key.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::harness::{ADMIN, PASSWORD, TestServer, assert_error};

#[actix_web::test]
async fn setup_works_once_then_409() {
    let s = TestServer::start().await;
    let health = s.call(Method::GET, "/api/health", None, None).await;
    assert_eq!(health.body["setup_required"], true);
    let bad = s
        .call(
            Method::POST,
            "/api/auth/setup",
            None,
            Some(json!({"username": ADMIN, "password": "short"})),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");
    let admin = s.setup().await;
    let me = s.get("/api/auth/me", &admin.access).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["auth_method"], "jwt");
    let again = s
        .call(
            Method::POST,
            "/api/auth/setup",
            None,
            Some(json!({"username": "other", "password": PASSWORD})),
        )
        .await;
    assert_error(&again, StatusCode::CONFLICT, "conflict");
    assert_eq!(
        s.call(Method::GET, "/api/health", None, None).await.body["setup_required"],
        false
    );
    s.stop().await;
}

#[actix_web::test]
async fn login_sets_strict_httponly_cookies_and_returns_tokens() {
    let s = TestServer::start().await;
    s.setup().await;
    let r = s.login(ADMIN, PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    let cookies: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("cb_session="))
        .unwrap();
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("cb_refresh="))
        .unwrap();
    for c in [session, refresh] {
        assert!(c.contains("HttpOnly"), "{c}");
        assert!(c.contains("SameSite=Strict"), "{c}");
    }
    assert!(refresh.contains("Path=/api/auth"));
    assert_eq!(r.headers["cache-control"], "no-store");
    s.stop().await;
}

#[actix_web::test]
async fn unknown_user_and_wrong_password_get_identical_answers() {
    let s = TestServer::start().await;
    s.setup().await;
    let unknown = s.login("nobody", PASSWORD).await;
    let wrong = s.login(ADMIN, "wrong-password-1").await;
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(unknown.body["error"], wrong.body["error"]);
    assert_eq!(unknown.body["code"], wrong.body["code"]);
    s.stop().await;
}

#[actix_web::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let s = TestServer::start().await;
    let first = s.setup().await;
    let r = s
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": first.refresh})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let second_refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    let second_access = r.body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first.refresh);
    assert_eq!(
        s.get("/api/auth/me", &second_access).await.status,
        StatusCode::OK
    );

    // The first refresh token is used up: presenting it again is reuse.
    let reuse = s
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": first.refresh})),
        )
        .await;
    assert_error(&reuse, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(reuse.body["error"].as_str().unwrap().contains("reuse"));
    // The whole family is revoked: the newest refresh token and the access tokens too.
    let after = s
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": second_refresh})),
        )
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.get("/api/auth/me", &second_access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.get("/api/auth/me", &first.access).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Refresh from the cookie works too.
    let login = s.login(ADMIN, PASSWORD).await;
    let cookie = login
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("cb_refresh="))
        .unwrap();
    let res = s
        .http
        .post(s.url("/api/auth/refresh"))
        .header("cookie", cookie)
        .header("origin", &s.base)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    s.stop().await;
}

#[actix_web::test]
async fn logout_revokes_access_and_refresh_tokens() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let r = s
        .call(Method::POST, "/api/auth/logout", Some(&admin.access), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.get("/api/auth/me", &admin.access).await.status,
        StatusCode::UNAUTHORIZED
    );
    let refresh = s
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": admin.refresh})),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
    s.stop().await;
}

#[actix_web::test]
async fn cookie_sessions_need_same_origin_for_mutations() {
    let s = TestServer::start().await;
    s.setup().await;
    let login = s.login(ADMIN, PASSWORD).await;
    let cookie = login
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("cb_session="))
        .unwrap();
    let get = s
        .http
        .get(s.url("/api/auth/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    let me = TestServer::reply(get).await;
    assert_eq!(me.body["auth_method"], "cookie");

    let post = |origin: Option<&str>| {
        let mut req = s
            .http
            .post(s.url("/api/notifications/test"))
            .header("cookie", &cookie);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    let no_origin = TestServer::reply(post(None).await.unwrap()).await;
    assert_error(&no_origin, StatusCode::FORBIDDEN, "forbidden");
    let evil = TestServer::reply(post(Some("http://evil.example")).await.unwrap()).await;
    assert_error(&evil, StatusCode::FORBIDDEN, "forbidden");
    let same = post(Some(&s.base)).await.unwrap();
    assert_eq!(same.status(), StatusCode::ACCEPTED);
    s.stop().await;
}

#[actix_web::test]
async fn brute_force_is_limited_per_account_with_retry_after() {
    let s = TestServer::start().await;
    s.setup().await;
    for _ in 0..5 {
        assert_eq!(
            s.login(ADMIN, "wrong-password-1").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let blocked = s.login(ADMIN, "wrong-password-1").await;
    assert_error(&blocked, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = blocked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Even the right password waits now.
    assert_eq!(
        s.login(ADMIN, PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other accounts from the same address are not locked by this account's failures.
    assert_eq!(
        s.login("someone", "wrong-password-1").await.status,
        StatusCode::UNAUTHORIZED
    );
    s.stop().await;
}

#[actix_web::test]
async fn brute_force_is_limited_per_ip() {
    let s = TestServer::start_with(|c| {
        c.auth.login_max_failures_per_ip = 3;
        c.auth.login_max_failures_per_account = 100;
    })
    .await;
    s.setup().await;
    for name in ["a1x", "b2x", "c3x"] {
        assert_eq!(
            s.login(name, "wrong-password-1").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let blocked = s.login("d4x", "wrong-password-1").await;
    assert_error(&blocked, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(blocked.headers.contains_key("retry-after"));
    s.stop().await;
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// Decodes a token's claims without checking them (to reuse a live session id).
fn claims(token: &str) -> serde_json::Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[actix_web::test]
async fn every_jwt_negative_is_rejected() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let secret = s.config.auth.jwt_secret.clone();
    let kid = contextbay::auth::tokens::root_kid(&secret);
    let base = claims(&admin.access);
    let now = base["iat"].as_i64().unwrap();
    let sign = |alg: Algorithm, typ: &str, claims: serde_json::Value| {
        let mut h = Header::new(alg);
        h.typ = Some(typ.into());
        h.kid = Some(kid.clone());
        jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    };
    let with = |k: &str, v: serde_json::Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    let server = &s;
    let me = |t: String| async move { server.get("/api/auth/me", &t).await.status };

    // Control: a token crafted like the server's own is accepted, so the rejections below are
    // for the stated reasons.
    assert_eq!(
        me(sign(Algorithm::HS256, "at+jwt", base.clone())).await,
        StatusCode::OK
    );

    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
        b64(&base)
    );
    assert_eq!(me(none).await, StatusCode::UNAUTHORIZED, "alg none");
    assert_eq!(
        me(sign(Algorithm::HS512, "at+jwt", base.clone())).await,
        StatusCode::UNAUTHORIZED,
        "HS512"
    );
    assert_eq!(
        me(sign(
            Algorithm::HS256,
            "at+jwt",
            with("aud", json!("other"))
        ))
        .await,
        StatusCode::UNAUTHORIZED,
        "aud"
    );
    assert_eq!(
        me(sign(
            Algorithm::HS256,
            "at+jwt",
            with("iss", json!("other"))
        ))
        .await,
        StatusCode::UNAUTHORIZED,
        "iss"
    );
    assert_eq!(
        me(sign(Algorithm::HS256, "JWT", base.clone())).await,
        StatusCode::UNAUTHORIZED,
        "typ"
    );
    assert_eq!(
        me(sign(
            Algorithm::HS256,
            "at+jwt",
            with("exp", json!(now - 120))
        ))
        .await,
        StatusCode::UNAUTHORIZED,
        "expired"
    );
    let mut other_kid = Header::new(Algorithm::HS256);
    other_kid.typ = Some("at+jwt".into());
    other_kid.kid = Some("root-000000000000".into());
    let forged = jsonwebtoken::encode(
        &other_kid,
        &base,
        &EncodingKey::from_secret(b"another-secret-another-secret-xx"),
    )
    .unwrap();
    assert_eq!(me(forged).await, StatusCode::UNAUTHORIZED, "unknown key");
    // A refresh token is not an access token.
    assert_eq!(
        me(admin.refresh.clone()).await,
        StatusCode::UNAUTHORIZED,
        "refresh as access"
    );
    // An access token is not a refresh token.
    let r = s
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": admin.access})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "access as refresh");
    // Tokens in the query string are never read.
    for q in ["token", "access_token", "jwt"] {
        let r = s
            .call(
                Method::GET,
                &format!("/api/auth/me?{q}={}", admin.access),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "query {q}");
    }
    // Not a Bearer scheme.
    let basic = s
        .http
        .get(s.url("/api/auth/me"))
        .header("authorization", format!("Basic {}", admin.access))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    s.stop().await;
}

#[actix_web::test]
async fn rotated_key_is_accepted_during_grace_and_rejected_after() {
    let s = TestServer::start_with(|c| c.auth.rotation_grace_secs = 2).await;
    let admin = s.setup().await;
    let r = s
        .post("/api/admin/secrets/rotate-jwt", &admin.access, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["grace_seconds"], 2);
    assert_ne!(r.body["kid"], r.body["previous_kid"]);
    // Old token: still valid within the grace period.
    assert_eq!(
        s.get("/api/auth/me", &admin.access).await.status,
        StatusCode::OK
    );
    // New tokens are signed with the new key.
    let fresh = s.login(ADMIN, PASSWORD).await;
    let new_access = fresh.body["access_token"].as_str().unwrap().to_owned();
    let header = jsonwebtoken::decode_header(&new_access).unwrap();
    assert_eq!(header.kid.as_deref(), r.body["kid"].as_str());
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let old = s.get("/api/auth/me", &admin.access).await;
    assert_error(&old, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(
        s.get("/api/auth/me", &new_access).await.status,
        StatusCode::OK
    );
    s.stop().await;
}

#[actix_web::test]
async fn rotation_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = super::support::postgres::test_config(dir.path());
    let start = |c: contextbay::Config| async move {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        contextbay::start_on(c, listener).await.unwrap()
    };
    let first = start(config.clone()).await;
    let base = format!("http://{}", first.http_addr);
    let http = reqwest::Client::new();
    let setup: serde_json::Value = http
        .post(format!("{base}/api/auth/setup"))
        .json(&json!({"username": ADMIN, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = setup["access_token"].as_str().unwrap().to_owned();
    let rotation: serde_json::Value = http
        .post(format!("{base}/api/admin/secrets/rotate-jwt"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let login: serde_json::Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": ADMIN, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_token = login["access_token"].as_str().unwrap().to_owned();
    first.stop().await;

    let second = start(config).await;
    let base = format!("http://{}", second.http_addr);
    for t in [&token, &new_token] {
        let status = http
            .get(format!("{base}/api/auth/me"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK, "kid {:?}", rotation["kid"]);
    }
    second.stop().await;
}

/// A login as if from `address`: through a trusted proxy, the address is `X-Forwarded-For`.
async fn login_from(s: &TestServer, address: &str, username: &str, password: &str) -> StatusCode {
    s.http
        .post(s.url("/api/auth/login"))
        .header("x-forwarded-for", address)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

#[actix_web::test]
async fn parallel_wrong_passwords_get_at_most_the_limit_evaluated() {
    let s = TestServer::start_with(|c| {
        c.auth.login_max_failures_per_address = 5;
        c.auth.login_max_failures_per_ip = 1000;
    })
    .await;
    s.setup().await;
    // Every guess is wrong: a right one among the five evaluated would log in and clear the
    // address's failures, and which five are evaluated depends on scheduling.
    let replies =
        futures_util::future::join_all((0..20).map(|_| s.login(ADMIN, "wrong-password-1"))).await;
    let evaluated = replies
        .iter()
        .filter(|r| r.status != StatusCode::TOO_MANY_REQUESTS)
        .count();
    let refused = replies.len() - evaluated;
    // The counting happens in the same step as the check, before the (slow) password check: of
    // 20 guesses sent at once, at most 5 reach the password check.
    assert!(evaluated <= 5, "{evaluated} guesses were evaluated");
    assert!(refused >= 15, "{refused}");
    let wrong_evaluated = s
        .state()
        .metrics
        .auth_failures
        .with_label_values(&["password"])
        .get();
    assert!(wrong_evaluated <= 5, "{wrong_evaluated}");
    // The limit is reached: the right password waits too.
    assert_eq!(
        s.login(ADMIN, PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    s.stop().await;
}

#[actix_web::test]
async fn an_attacker_elsewhere_cannot_lock_the_user_out_of_their_usual_address() {
    let s = TestServer::start_with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.auth.login_max_failures_per_address = 3;
        c.auth.login_max_failures_per_account = 9;
    })
    .await;
    let admin = s.setup().await;
    s.user(&admin, "xena", "viewer").await;
    let home = "198.51.100.7";
    assert_eq!(login_from(&s, home, "xena", PASSWORD).await, StatusCode::OK);

    // One attacker address hammers xena: locked out after 3 guesses, xena at home is not.
    let attacker = "203.0.113.9";
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(login_from(&s, attacker, "xena", "wrong-password-1").await);
    }
    assert_eq!(statuses[..3], [StatusCode::UNAUTHORIZED; 3]);
    assert_eq!(statuses[3..], [StatusCode::TOO_MANY_REQUESTS; 3]);
    assert_eq!(
        login_from(&s, attacker, "xena", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(login_from(&s, home, "xena", PASSWORD).await, StatusCode::OK);

    // More attacker addresses: with the first one's 3 guesses, the account ceiling (9) is
    // reached; xena is locked out of new places, never out of home.
    for i in 1..=2 {
        for _ in 0..3 {
            assert_eq!(
                login_from(&s, &format!("203.0.113.{i}0"), "xena", "wrong-password-1").await,
                StatusCode::UNAUTHORIZED
            );
        }
    }
    assert_eq!(
        login_from(&s, "192.0.2.44", "xena", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(login_from(&s, home, "xena", PASSWORD).await, StatusCode::OK);
    s.stop().await;
}

#[actix_web::test]
async fn forwarded_for_is_ignored_without_a_trusted_proxy() {
    let s = TestServer::start_with(|c| {
        c.auth.login_max_failures_per_address = 3;
    })
    .await;
    let admin = s.setup().await;
    s.user(&admin, "xena", "viewer").await;
    for i in 0..3 {
        assert_eq!(
            login_from(&s, &format!("203.0.113.{i}"), "xena", "wrong-password-1").await,
            StatusCode::UNAUTHORIZED
        );
    }
    // Every attempt came from 127.0.0.1 whatever the header says: that address is locked out.
    assert_eq!(
        login_from(&s, "198.51.100.7", "xena", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    s.stop().await;
}

#[actix_web::test]
async fn the_audit_log_names_the_forwarded_client_behind_a_trusted_proxy() {
    let s = TestServer::start_with(|c| {
        c.server.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let admin = s.setup().await;
    let r = s
        .http
        .post(s.url("/api/keys"))
        .bearer_auth(&admin.access)
        // The left entry is whatever the client sent; the proxy appended the real address.
        .header("x-forwarded-for", "6.6.6.6, 198.51.100.7")
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let entries = s.audit(&admin, "&action=/api/keys").await;
    assert_eq!(entries[0]["source_ip"], "198.51.100.7", "{entries:?}");
    s.stop().await;
}

#[actix_web::test]
async fn concurrent_setups_create_exactly_one_admin() {
    concurrent_setups(TestServer::start().await).await;
}

/// The same straight at the store, on the suite's engine (`CB_TEST_STORE=postgres`: PostgreSQL,
/// where each transaction counting zero users is not enough).
#[actix_web::test]
async fn concurrent_first_admins_in_the_store_make_exactly_one() {
    let s = TestServer::start().await;
    // Straight at the store, without the hashing that spreads the HTTP calls out in time.
    let hash = contextbay::auth::password::hash(PASSWORD).unwrap();
    let users = s.state().store.clone();
    let created = futures_util::future::join_all((0..10).map(|i| {
        let (users, hash) = (users.clone(), hash.clone());
        async move {
            users
                .users()
                .create_first_admin(&format!("first{i}"), &hash)
                .await
        }
    }))
    .await;
    assert_eq!(
        created.iter().filter(|r| r.is_ok()).count(),
        1,
        "{created:?}"
    );
    let again = s
        .call(
            Method::POST,
            "/api/auth/setup",
            None,
            Some(json!({"username": "late", "password": PASSWORD})),
        )
        .await;
    assert_error(&again, StatusCode::CONFLICT, "conflict");
    s.stop().await;
}

async fn concurrent_setups(s: TestServer) {
    let replies = futures_util::future::join_all((0..10).map(|i| {
        s.call(
            Method::POST,
            "/api/auth/setup",
            None,
            Some(json!({"username": format!("admin{i}"), "password": PASSWORD})),
        )
    }))
    .await;
    let created: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert_eq!(
        created.len(),
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_error(r, StatusCode::CONFLICT, "conflict");
    }
    let admin = super::harness::Login::from(&created[0].body);
    assert_eq!(s.get("/api/users", &admin.access).await.body["total"], 1);
    s.stop().await;
}
