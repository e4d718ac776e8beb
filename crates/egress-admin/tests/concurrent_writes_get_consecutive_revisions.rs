//! Writes from many clients at once are serialised: each gets its own revision, none is lost,
//! and the node applies them in order.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_each_become_one_revision() {
    let api = std::sync::Arc::new(Api::start("concurrent"));
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let api = api.clone();
            tokio::spawn(async move {
                let body = json!({"name": format!("net-{i}"), "prefixes": [format!("10.{}.0.0/16", 100 + i)]});
                let reply = api.op(Method::POST, "/v1/private-networks", Some(body)).await;
                reply.expect(StatusCode::CREATED);
                reply.etag().expect("an etag")
            })
        })
        .collect();
    let mut revisions = Vec::new();
    for writer in writers {
        revisions.push(writer.await.expect("the writer finishes"));
    }
    revisions.sort_unstable();
    assert_eq!(revisions, (2..=17).collect::<Vec<u64>>());
    assert_eq!(api.node.applied(), (1..=17).collect::<Vec<u64>>());
    let networks = api.op(Method::GET, "/v1/private-networks", None).await;
    assert_eq!(networks.json.as_array().map(Vec::len), Some(17));
}
