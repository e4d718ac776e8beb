//! The OpenAPI document is 3.1, lists exactly the routes the router serves, and each of them
//! is routed (no 404 "no such route", no 405).

mod support;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use support::Api;

#[tokio::test]
async fn the_document_lists_exactly_the_served_routes() {
    let api = Api::start("openapi");
    let reply = api
        .call(Method::GET, "/v1/openapi.json", None, None, &[])
        .await;
    reply.expect(StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&reply.text).expect("the document is JSON");
    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3.1."), "{version}");

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                documented.insert((method.to_uppercase(), path.clone()));
                assert!(
                    operation["responses"]
                        .as_object()
                        .is_some_and(|r| !r.is_empty()),
                    "{method} {path} documents its responses"
                );
            }
        }
    }
    let served: BTreeSet<(String, String)> = egress_admin::served_routes().into_iter().collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
    assert!(served.len() > 70, "{} routes", served.len());

    // Each served route is routed; keys that exist nowhere keep every write a no-op.
    for (method, path) in &served {
        let uri = path
            .replace("{id}", "no-such-account")
            .replace("{n}", "999")
            .replace("{ipv4}", "192.0.2.254")
            .replace(['{', '}'], "");
        let method: Method = method.parse().expect("a method");
        let reply = api.op(method.clone(), &uri, None).await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        let no_route = reply.json["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("route "));
        assert!(!no_route, "{method} {uri}: {}", reply.text);
    }
    assert_eq!(api.latest(), 1, "the probes changed nothing");
}

#[tokio::test]
async fn protected_operations_declare_the_bearer_scheme_and_their_errors() {
    let doc = serde_json::to_value(egress_admin::openapi_document()).expect("json");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let create = &doc["paths"]["/v1/accounts/{id}/policies"]["post"];
    assert_eq!(create["security"][0]["bearer"], serde_json::json!([]));
    for status in ["201", "400", "401", "403", "404", "409", "422"] {
        assert!(
            create["responses"][status].is_object(),
            "POST policies documents {status}"
        );
    }
    assert!(create["responses"]["201"]["headers"]["ETag"].is_object());
    let health = &doc["paths"]["/healthz"]["get"];
    assert!(health.get("security").is_none());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc["components"]["schemas"]["Config"].is_object());
}
