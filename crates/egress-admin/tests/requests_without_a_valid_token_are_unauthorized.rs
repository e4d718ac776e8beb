//! Every route but health, readiness and the OpenAPI document needs a valid bearer token; a
//! refusal is 401 with `WWW-Authenticate: Bearer`.

mod support;

use axum::http::{header, Method, StatusCode};
use egress_store::ConfigStore;
use support::Api;

#[tokio::test]
async fn missing_malformed_unknown_and_revoked_tokens_are_refused() {
    let api = Api::start("unauthorized");
    let (revoked_info, revoked) = api
        .store
        .create_token(
            "gone",
            egress_store::TokenScope {
                account: None,
                write: true,
            },
            "test",
        )
        .expect("token");
    api.store
        .revoke_token(revoked_info.id, "test")
        .expect("revokes");

    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no header", vec![]),
        (
            "basic auth",
            vec![("authorization", "Basic b3BzOnNlY3JldA==".into())],
        ),
        ("empty bearer", vec![("authorization", "Bearer ".into())]),
        (
            "unknown secret",
            vec![("authorization", "Bearer egt_0000".into())],
        ),
        (
            "revoked secret",
            vec![("authorization", format!("Bearer {revoked}"))],
        ),
    ];
    for (case, headers) in cases {
        for (method, uri) in [
            (Method::GET, "/v1/accounts"),
            (Method::PUT, "/v1/config"),
            (Method::GET, "/metrics"),
        ] {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let reply = api.call(method, uri, None, None, &headers).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case} {uri}");
            assert_eq!(reply.json["error"], "unauthorized", "{case}");
            assert_eq!(
                reply
                    .headers
                    .get(header::WWW_AUTHENTICATE)
                    .map(|v| v.as_bytes()),
                Some(&b"Bearer"[..]),
                "{case}"
            );
        }
    }
    assert_eq!(api.latest(), 1);
}

#[tokio::test]
async fn health_readiness_and_the_document_need_no_token_and_metrics_an_operator_token() {
    let api = Api::start("public-routes");
    for uri in ["/healthz", "/readyz", "/v1/openapi.json"] {
        let reply = api.call(Method::GET, uri, None, None, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text);
    }
    let metrics = api
        .call(Method::GET, "/metrics", Some(&api.tokens.reader), None, &[])
        .await;
    metrics.expect(StatusCode::OK);
    assert_eq!(
        metrics
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes()),
        Some(&b"text/plain; version=0.0.4; charset=utf-8"[..])
    );
    assert!(metrics.text.contains("egressd_connections_active 3"));
    // A token verified once is answered from the cache the second time, the same way.
    let again = api
        .call(Method::GET, "/metrics", Some(&api.tokens.reader), None, &[])
        .await;
    again.expect(StatusCode::OK);
    // Metrics carry every account's labels: an account token may not read them.
    let scoped = api
        .call(
            Method::GET,
            "/metrics",
            Some(&api.tokens.acme_reader),
            None,
            &[],
        )
        .await;
    scoped.expect(StatusCode::FORBIDDEN);
}
