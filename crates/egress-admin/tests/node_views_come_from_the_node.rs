//! Status, live connections, port usage, logs and metrics are the node's, passed through with
//! their filters and limits.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::Api;

#[tokio::test]
async fn status_and_live_views_pass_through_filters_and_limits() {
    let api = Api::start("node-views");
    let status = api.op(Method::GET, "/v1/status", None).await;
    status.expect(StatusCode::OK);
    assert_eq!(status.etag(), Some(1));
    assert_eq!(
        status.json,
        json!({"node_id": "fra-1", "location": "fra",
               "mode": {"kind": "store", "data_dir": "/var/lib/egressd"},
               "revision": 1, "started_at": "2026-01-02T03:04:05.000Z",
               "listeners": ["0.0.0.0:3128", "127.0.0.1:9090"], "latest_revision": 1,
               "fleet_peers": [], "locations_down": []})
    );

    let live = api.op(Method::GET, "/v1/connections?limit=2", None).await;
    live.expect(StatusCode::OK);
    assert_eq!(live.json.as_array().map(Vec::len), Some(2));
    let globex = api
        .op(Method::GET, "/v1/connections?account=globex", None)
        .await;
    assert_eq!(globex.json[0]["user"], "hank");

    let ports = api.op(Method::GET, "/v1/port-usage?top=1", None).await;
    ports.expect(StatusCode::OK);
    assert_eq!(
        ports.json,
        json!([{"egress_ip": "203.0.113.10", "destination": "198.18.0.10:443",
                "connections": 300, "limit": 40000}])
    );

    let logs = api
        .op(
            Method::GET,
            "/v1/logs?close_reason=egress_port_allocation_error&limit=5",
            None,
        )
        .await;
    logs.expect(StatusCode::OK);
    assert_eq!(logs.json.as_array().map(Vec::len), Some(1));
    assert_eq!(logs.json[0]["user"], "bob");
    let filter = api.node.last_log_filter.lock().expect("lock").clone();
    assert_eq!(
        filter.map(|f| (f.account, f.close_reason)),
        Some((None, Some("egress_port_allocation_error".to_string())))
    );
}
