//! When the node runs from its TOML file, the file is the source of truth: the API reads but
//! refuses every write with 409 `file_mode`.

mod support;

use axum::http::{Method, StatusCode};
use egress_admin::Mode;
use serde_json::json;
use support::Api;

#[tokio::test]
async fn writes_are_refused_while_the_node_runs_from_a_file() {
    let api = Api::start("file-mode");
    *api.node.mode.lock().expect("lock") = Mode::File {
        path: "/etc/egressd.toml".into(),
    };
    let status = api.op(Method::GET, "/v1/status", None).await;
    status.expect(StatusCode::OK);
    assert_eq!(
        status.json["mode"],
        json!({"kind": "file", "path": "/etc/egressd.toml"})
    );
    let read = api.op(Method::GET, "/v1/locations", None).await;
    read.expect(StatusCode::OK);

    let refused = api
        .op(
            Method::POST,
            "/v1/private-networks",
            Some(json!({"name": "lab", "prefixes": ["10.99.0.0/16"]})),
        )
        .await;
    refused.expect_error(StatusCode::CONFLICT, "file_mode");
    let message = refused.json["message"].as_str().unwrap_or("");
    assert!(
        message.contains("the TOML file is the source of truth")
            && message.contains("egressd config import"),
        "{message}"
    );
    let whole = api
        .op(
            Method::PUT,
            "/v1/config",
            Some(serde_json::to_value(support::example()).expect("json")),
        )
        .await;
    whole.expect_error(StatusCode::CONFLICT, "file_mode");
    assert_eq!(api.latest(), 1);
    assert_eq!(api.node.applied(), vec![1]);
}
