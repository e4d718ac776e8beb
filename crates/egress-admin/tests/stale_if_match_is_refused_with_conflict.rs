//! `If-Match` names the revision a change is based on; a stale one is refused with 409 and
//! changes nothing.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::Api;

#[tokio::test]
async fn a_write_based_on_an_old_revision_is_refused() {
    let api = Api::start("if-match");
    let read = api.op(Method::GET, "/v1/config", None).await;
    read.expect(StatusCode::OK);
    assert_eq!(read.etag(), Some(1));

    let settings = json!({"proxy": true, "tcp": true, "udp": false, "host_selectors": true});
    let uri = "/v1/accounts/acme/traffic-settings";
    let first = api
        .call(
            Method::PUT,
            uri,
            Some(&api.tokens.operator),
            Some(settings.clone()),
            &[("if-match", "\"1\"")],
        )
        .await;
    first.expect(StatusCode::OK);
    assert_eq!(first.etag(), Some(2));

    let stale = api
        .call(
            Method::PUT,
            uri,
            Some(&api.tokens.operator),
            Some(json!({"proxy": false})),
            &[("if-match", "\"1\"")],
        )
        .await;
    stale.expect_error(StatusCode::CONFLICT, "conflict");
    assert_eq!(stale.json["expected"], 1);
    assert_eq!(stale.json["current"], 2);
    assert_eq!(api.latest(), 2, "nothing stored");
    assert_eq!(api.node.applied(), vec![1, 2], "nothing applied");
    let now = api.op(Method::GET, uri, None).await;
    assert_eq!(now.json["proxy"], true);

    // Without If-Match a write applies to whatever is latest.
    let blind = api
        .op(Method::PUT, uri, Some(json!({"proxy": false})))
        .await;
    blind.expect(StatusCode::OK);
    assert_eq!(blind.etag(), Some(3));
}

#[tokio::test]
async fn a_malformed_if_match_is_a_bad_request() {
    let api = Api::start("if-match-bad");
    let reply = api
        .call(
            Method::PUT,
            "/v1/accounts/acme/groups",
            Some(&api.tokens.operator),
            Some(json!(["finance", "engineering", "contractors"])),
            &[("if-match", "revision one")],
        )
        .await;
    reply.expect_error(StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(api.latest(), 1);
}
