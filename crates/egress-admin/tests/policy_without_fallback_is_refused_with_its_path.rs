//! A dedicated policy without `ipv4_fallback` breaks rule 3: the API answers 422 with the
//! validator's path and rule, and stores and applies nothing.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::Api;

#[tokio::test]
async fn a_policy_without_ipv4_fallback_is_refused_with_path_and_rule() {
    let api = Api::start("no-fallback");
    let policy = json!({
        "precedence": 5, "name": "no fallback", "traffic": "net.dst.port == 22",
        "method": {"dedicated": {"ipv4": "203.0.113.10"}}
    });
    let reply = api
        .op(Method::POST, "/v1/accounts/acme/policies", Some(policy))
        .await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let problems = reply.json["problems"].as_array().expect("problems");
    assert!(
        problems.iter().any(|p| p["path"]
            == "accounts[\"acme\"].policies[\"no fallback\"].method.ipv4_fallback"
            && p["rule"] == "fallback_required"
            && p["message"]
                .as_str()
                .is_some_and(|m| m.contains("ipv4_fallback"))),
        "{}",
        reply.text
    );
    assert!(reply.headers.get("etag").is_none());
    assert_eq!(api.latest(), 1, "nothing stored");
    assert_eq!(api.node.applied(), vec![1], "nothing applied");
    let missing = api
        .op(
            Method::GET,
            "/v1/accounts/acme/policies/no%20fallback",
            None,
        )
        .await;
    missing.expect_error(StatusCode::NOT_FOUND, "not_found");
}
