//! `POST /v1/accounts/{id}/policy-validation` answers what a create or save would be refused
//! with (422 and every problem with its path), or 200 for a valid policy, and never stores a
//! revision. Read-only tokens may use it; other accounts' tokens may not.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::Api;

const ROUTE: &str = "/v1/accounts/acme/policy-validation";

#[tokio::test]
async fn a_dedicated_policy_without_fallback_gets_its_problem_and_nothing_is_stored() {
    let api = Api::start("validate-fallback");
    let policy = json!({
        "precedence": 5, "name": "ssh", "traffic": "net.dst.port == 22",
        "method": {"dedicated": {"ipv4": "203.0.113.10"}}
    });
    let reply = api
        .call(
            Method::POST,
            ROUTE,
            Some(&api.tokens.reader),
            Some(json!({ "policy": policy })),
            &[],
        )
        .await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let problems = reply.json["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1, "{}", reply.text);
    assert_eq!(
        problems[0]["path"],
        "accounts[\"acme\"].policies[\"ssh\"].method.ipv4_fallback"
    );
    assert_eq!(problems[0]["rule"], "fallback_required");
    assert_eq!(api.latest(), 1, "nothing stored");
    assert_eq!(api.node.applied(), vec![1], "nothing applied");
}

#[tokio::test]
async fn expression_errors_name_the_expression_field() {
    let api = Api::start("validate-expression");
    let policy = json!({
        "precedence": 5, "name": "typo", "traffic": "net.dst.prot == 22",
        "identity": "identity.email ==", "method": "default"
    });
    let reply = api
        .op(Method::POST, ROUTE, Some(json!({ "policy": policy })))
        .await;
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let paths: Vec<&str> = reply.json["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"accounts[\"acme\"].policies[\"typo\"].traffic"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"accounts[\"acme\"].policies[\"typo\"].identity"),
        "{paths:?}"
    );
}

#[tokio::test]
async fn a_valid_policy_and_an_edit_in_place_pass_without_a_revision() {
    let api = Api::start("validate-ok");
    let fine = json!({
        "policy": {"precedence": 5, "name": "ssh", "traffic": "net.dst.port == 22",
                   "method": {"dedicated": {"ipv4": "203.0.113.10", "ipv4_fallback": "0.0.0.0"}}}
    });
    let reply = api.op(Method::POST, ROUTE, Some(fine)).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.json, json!({"valid": true}));
    assert_eq!(reply.etag(), Some(1));

    // The same precedence as an existing policy: refused for a new one, fine as its edit.
    let existing = api
        .op(
            Method::GET,
            "/v1/accounts/acme/policies/bank%20via%20lax",
            None,
        )
        .await;
    let mut edited = existing.json.clone();
    edited["traffic"] = json!("net.dst.port == 8443");
    let as_new = api
        .op(
            Method::POST,
            ROUTE,
            Some(json!({ "policy": edited.clone() })),
        )
        .await;
    as_new.expect(StatusCode::CONFLICT);
    let as_edit = api
        .op(
            Method::POST,
            ROUTE,
            Some(json!({ "policy": edited, "replaces": "bank via lax" })),
        )
        .await;
    as_edit.expect(StatusCode::OK);
    assert_eq!(api.latest(), 1, "validation never stores");
}

#[tokio::test]
async fn another_accounts_token_is_refused() {
    let api = Api::start("validate-scope");
    let reply = api
        .call(
            Method::POST,
            ROUTE,
            Some(&api.tokens.globex),
            Some(json!({"policy": {"precedence": 1, "name": "x", "method": "default"}})),
            &[],
        )
        .await;
    reply.expect_error(StatusCode::FORBIDDEN, "forbidden");
}
