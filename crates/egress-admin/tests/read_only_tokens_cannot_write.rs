//! A read-only token reads (and explains) but every write is refused with 403.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::Api;

#[tokio::test]
async fn read_only_tokens_read_and_explain_but_never_write() {
    let api = Api::start("read-only");
    let reader = api.tokens.reader.clone();
    let read = api
        .call(Method::GET, "/v1/config", Some(&reader), None, &[])
        .await;
    read.expect(StatusCode::OK);
    let explained = api
        .call(
            Method::POST,
            "/v1/explain",
            Some(&reader),
            Some(json!({"account": "acme", "from": "10.20.1.5", "to": "198.18.0.10:443"})),
            &[],
        )
        .await;
    explained.expect(StatusCode::OK);

    let writes = [
        (Method::PUT, "/v1/config", Some(read.json.clone())),
        (
            Method::POST,
            "/v1/private-networks",
            Some(json!({"name": "lab", "prefixes": ["10.99.0.0/16"]})),
        ),
        (Method::DELETE, "/v1/accounts/globex", None),
        (
            Method::POST,
            "/v1/accounts/acme/policies/retired%20rule/enable",
            None,
        ),
    ];
    for (method, uri, body) in writes {
        let reply = api
            .call(method.clone(), uri, Some(&reader), body, &[])
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {uri}");
        assert_eq!(reply.json["error"], "forbidden");
        assert!(reply.json["message"]
            .as_str()
            .is_some_and(|m| m.contains("read-only")));
    }
    let acme_reader = api
        .call(
            Method::PUT,
            "/v1/accounts/acme/groups",
            Some(&api.tokens.acme_reader),
            Some(json!(["finance"])),
            &[],
        )
        .await;
    acme_reader.expect_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(api.latest(), 1, "nothing stored");
    assert_eq!(api.node.applied(), vec![1]);
}
