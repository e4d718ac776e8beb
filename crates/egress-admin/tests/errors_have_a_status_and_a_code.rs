//! Every way a request fails answers with its status and `{"error": code, "message": …}`.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use egress_model::Config;
use egress_store::{
    AuditEntry, ConfigStore, Revision, RevisionMeta, StoreError, TokenId, TokenInfo, TokenScope,
};
use serde_json::json;
use support::{example, Api, FakeNode};

#[tokio::test]
async fn unknown_routes_and_items_are_not_found() {
    let api = Api::start("not-found");
    for uri in [
        "/v2/accounts",
        "/v1/locations/mars",
        "/v1/accounts/nobody",
        "/v1/accounts/nobody/policies",
        "/v1/accounts/acme/users/mallory",
        "/v1/accounts/acme/dedicated-ips/192.0.2.99",
        "/v1/revisions/42",
    ] {
        let reply = api.op(Method::GET, uri, None).await;
        reply.expect_error(StatusCode::NOT_FOUND, "not_found");
    }
    let update = api
        .op(
            Method::PUT,
            "/v1/on-net/nothing",
            Some(json!({"name": "nothing", "hosts": ["x.example"]})),
        )
        .await;
    update.expect_error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(api.latest(), 1);
}

#[tokio::test]
async fn a_duplicate_key_already_exists() {
    let api = Api::start("already-exists");
    let node = api
        .op(
            Method::POST,
            "/v1/nodes",
            Some(json!({"id": "lax-1", "location": "lax"})),
        )
        .await;
    node.expect_error(StatusCode::CONFLICT, "already_exists");
    let renamed_onto = api
        .op(
            Method::PUT,
            "/v1/nodes/nyc-1",
            Some(json!({"id": "lax-1", "location": "nyc"})),
        )
        .await;
    renamed_onto.expect_error(StatusCode::CONFLICT, "already_exists");
    assert_eq!(api.latest(), 1);
}

#[tokio::test]
async fn bodies_paths_queries_and_headers_that_do_not_parse_are_bad_requests() {
    let api = Api::start("bad-request");
    let cases: Vec<(Method, &str, Option<&str>)> = vec![
        (Method::POST, "/v1/private-networks", Some("{not json")),
        (
            Method::POST,
            "/v1/private-networks",
            Some(r#"{"name": "lab", "prefixes": ["10.0.0.0/8"], "colour": "blue"}"#),
        ),
        (
            Method::POST,
            "/v1/private-networks",
            Some(r#"{"name": "lab", "prefixes": ["ten"]}"#),
        ),
        (Method::POST, "/v1/private-networks", None),
        (Method::GET, "/v1/revisions/abc", None),
        (Method::GET, "/v1/logs?limit=lots", None),
        (Method::GET, "/v1/audit?colour=blue", None),
        (Method::GET, "/v1/revisions?limit=1001", None),
        (Method::GET, "/v1/port-usage?top=10001", None),
    ];
    for (method, uri, body) in cases {
        let mut request = Request::builder().method(method.clone()).uri(uri).header(
            header::AUTHORIZATION,
            format!("Bearer {}", api.tokens.operator),
        );
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        let reply = api.send(request).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{method} {uri}: {}",
            reply.text
        );
        assert_eq!(reply.json["error"], "bad_request");
    }
    assert_eq!(api.latest(), 1);
}

#[tokio::test]
async fn a_body_over_the_limit_is_too_large() {
    let api = Api::start("too-large");
    let padding = "x".repeat(17 * 1024 * 1024);
    let body = format!(r#"{{"name": "{padding}", "prefixes": []}}"#);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/private-networks")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", api.tokens.operator),
        )
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    let reply = api.send(request).await;
    reply.expect_error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    assert_eq!(api.latest(), 1);
}

#[tokio::test]
async fn a_revision_the_node_cannot_apply_is_reported_with_its_number() {
    let api = Api::start("apply-failed");
    api.node.fail_apply.store(true, Ordering::SeqCst);
    let reply = api
        .op(
            Method::POST,
            "/v1/private-networks",
            Some(json!({"name": "lab", "prefixes": ["10.99.0.0/16"]})),
        )
        .await;
    reply.expect_error(StatusCode::INTERNAL_SERVER_ERROR, "apply_failed");
    assert_eq!(reply.json["revision"], 2);
    assert_eq!(api.latest(), 2, "the revision is stored");
    assert_eq!(api.node.applied(), vec![1], "the node runs the one before");
}

#[tokio::test]
async fn readiness_follows_the_node() {
    let api = Api::start("not-ready");
    api.node.ready.store(false, Ordering::SeqCst);
    let reply = api.call(Method::GET, "/readyz", None, None, &[]).await;
    reply.expect_error(StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    let alive = api.call(Method::GET, "/healthz", None, None, &[]).await;
    alive.expect(StatusCode::OK);
    assert_eq!(alive.json["status"], "ok");
}

/// Verifies tokens, fails everything else.
struct BrokenStore;

fn broken() -> StoreError {
    StoreError::Corrupt {
        revision: 1,
        detail: "the disk is gone".into(),
    }
}

impl ConfigStore for BrokenStore {
    fn latest(&self) -> Result<Option<Revision>, StoreError> {
        Err(broken())
    }
    fn get(&self, _: u64) -> Result<Option<Revision>, StoreError> {
        Err(broken())
    }
    fn list(&self, _: usize) -> Result<Vec<RevisionMeta>, StoreError> {
        Err(broken())
    }
    fn commit(&self, _: Option<u64>, _: &Config, _: &str, _: &str) -> Result<Revision, StoreError> {
        Err(broken())
    }
    fn import(&self, _: &Config, _: &str, _: &str) -> Result<Revision, StoreError> {
        Err(broken())
    }
    fn audit(&self, _: usize) -> Result<Vec<AuditEntry>, StoreError> {
        Err(broken())
    }
    fn create_token(
        &self,
        _: &str,
        _: TokenScope,
        _: &str,
    ) -> Result<(TokenInfo, String), StoreError> {
        Err(broken())
    }
    fn verify_token(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
        Ok((secret == "egt_ok").then(|| TokenInfo {
            id: TokenId(1),
            name: "ops".into(),
            scope: TokenScope {
                account: None,
                write: true,
            },
            created_at: egress_store::Timestamp::now(),
            revoked_at: None,
        }))
    }
    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        Err(broken())
    }
    fn revoke_token(&self, _: TokenId, _: &str) -> Result<TokenInfo, StoreError> {
        Err(broken())
    }
}

#[tokio::test]
async fn a_failing_store_is_an_internal_error() {
    let node = Arc::new(FakeNode::new(&example(), 1));
    let router = egress_admin::router(Arc::new(BrokenStore), node);
    let api_call = |method: Method, uri: &str, body: Option<serde_json::Value>| {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, "Bearer egt_ok");
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request")
    };
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    for request in [
        api_call(Method::GET, "/v1/config", None),
        api_call(Method::GET, "/v1/audit", None),
        api_call(
            Method::POST,
            "/v1/private-networks",
            Some(json!({"name": "lab", "prefixes": ["10.99.0.0/16"]})),
        ),
    ] {
        let response = router.clone().oneshot(request).await.expect("answers");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(body["error"], "internal");
        assert!(body["message"]
            .as_str()
            .is_some_and(|m| m.contains("the disk is gone")));
    }
}
