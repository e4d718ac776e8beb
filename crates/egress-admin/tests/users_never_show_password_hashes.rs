//! Users are shown with `has_password`, never their hash; a `password` is stored as an
//! argon2id hash, and a user sent back without one keeps the one it had.

mod support;

use axum::http::{Method, StatusCode};
use egress_store::ConfigStore;
use serde_json::json;
use support::Api;

fn stored_hash(api: &Api, name: &str) -> Option<String> {
    let latest = api.store.latest().expect("reads").expect("a revision");
    let acme = latest
        .config
        .accounts
        .iter()
        .find(|a| a.id.0 == "acme")
        .expect("acme");
    acme.users
        .iter()
        .find(|u| u.name == name)
        .and_then(|u| u.password_hash.clone())
}

#[tokio::test]
async fn passwords_are_hashed_and_hashes_never_shown() {
    let api = Api::start("users");
    let alice = api
        .op(Method::GET, "/v1/accounts/acme/users/alice", None)
        .await;
    alice.expect(StatusCode::OK);
    assert_eq!(
        alice.json,
        json!({"name": "alice", "email": "alice@acme.example", "groups": ["finance"],
               "has_password": true})
    );
    for uri in [
        "/v1/accounts/acme/users",
        "/v1/accounts/acme",
        "/v1/accounts",
    ] {
        let reply = api.op(Method::GET, uri, None).await;
        reply.expect(StatusCode::OK);
        assert!(!reply.text.contains("password_hash"), "{uri}");
        assert!(!reply.text.contains("$argon2"), "{uri}");
    }

    let dave = api
        .op(
            Method::POST,
            "/v1/accounts/acme/users",
            Some(json!({"name": "dave", "groups": ["finance"], "password": "hunter2"})),
        )
        .await;
    dave.expect(StatusCode::CREATED);
    assert_eq!(dave.json["has_password"], true);
    assert!(!dave.text.contains("hunter2"));
    let hash = stored_hash(&api, "dave").expect("a hash");
    assert!(hash.starts_with("$argon2id$"), "{hash}");

    // Read, change the groups, send back: the password stays.
    let mut view = api
        .op(Method::GET, "/v1/accounts/acme/users/dave", None)
        .await
        .json
        .clone();
    view["groups"] = json!(["engineering"]);
    let kept = api
        .op(Method::PUT, "/v1/accounts/acme/users/dave", Some(view))
        .await;
    kept.expect(StatusCode::OK);
    assert_eq!(stored_hash(&api, "dave"), Some(hash));

    // The same through the whole account.
    let account = api
        .op(Method::GET, "/v1/accounts/acme", None)
        .await
        .json
        .clone();
    api.op(Method::PUT, "/v1/accounts/acme", Some(account))
        .await
        .expect(StatusCode::OK);
    assert!(stored_hash(&api, "alice").is_some());

    let cleared = api
        .op(
            Method::PUT,
            "/v1/accounts/acme/users/dave",
            Some(json!({"name": "dave", "has_password": false})),
        )
        .await;
    cleared.expect(StatusCode::OK);
    assert_eq!(cleared.json["has_password"], false);
    assert_eq!(stored_hash(&api, "dave"), None);

    let both = api
        .op(
            Method::PUT,
            "/v1/accounts/acme/users/dave",
            Some(json!({"name": "dave", "password": "a", "password_hash": "b"})),
        )
        .await;
    both.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    let unknown_group = api
        .op(
            Method::POST,
            "/v1/accounts/acme/users",
            Some(json!({"name": "erin", "groups": ["sales"]})),
        )
        .await;
    unknown_group.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert_eq!(unknown_group.json["problems"][0]["rule"], "unknown_group");
}
