//! Create an account, lease it two dedicated IPs, add policies, move, disable, enable and delete
//! one: every write is a new revision, the node is handed exactly that revision, and reads show it.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{initech_ips, Api};

/// Asserts that a write produced revision `n`, stored and applied.
#[track_caller]
fn assert_revision(api: &Api, reply: &support::Reply, n: u64) {
    assert_eq!(reply.etag(), Some(n), "ETag of the write: {}", reply.text);
    assert_eq!(api.latest(), n, "stored");
    assert_eq!(api.node.applied().last(), Some(&n), "applied");
}

#[tokio::test]
async fn every_write_is_a_new_revision_the_node_applies() {
    let api = Api::start("lifecycle");
    assert_eq!(api.node.applied(), vec![1]);

    let created = api
        .op(
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": "initech", "name": "Initech"})),
        )
        .await;
    created.expect(StatusCode::CREATED);
    assert_eq!(created.json["id"], "initech");
    assert_revision(&api, &created, 2);

    let leased = api
        .op(
            Method::PUT,
            "/v1/accounts/initech/dedicated-ips",
            Some(initech_ips()),
        )
        .await;
    leased.expect(StatusCode::OK);
    assert_revision(&api, &leased, 3);
    let space = api.op(Method::GET, "/v1/leased-ips", None).await;
    space.expect(StatusCode::OK);
    assert_eq!(space.etag(), Some(3));
    let lax = space
        .json
        .as_array()
        .expect("a list")
        .iter()
        .find(|ip| ip["ipv4"] == "203.0.113.50")
        .expect("the new lease is listed")
        .clone();
    assert_eq!(
        lax,
        json!({"ipv4": "203.0.113.50", "ipv6": "2001:db8:e000:50::/64", "account": "initech",
               "location": "lax", "city": "Los Angeles", "country": "US", "source": "leased",
               "pool": "leased-v4"})
    );

    let bank = json!({
        "precedence": 10, "name": "bank", "traffic": "net.dst.port == 443",
        "method": {"dedicated": {"ipv4": "203.0.113.50", "ipv4_fallback": "203.0.113.60"}}
    });
    let added = api
        .op(Method::POST, "/v1/accounts/initech/policies", Some(bank))
        .await;
    added.expect(StatusCode::CREATED);
    assert_revision(&api, &added, 4);
    let rest = json!({
        "precedence": 20, "name": "rest", "traffic": "net.protocol in {\"tcp\" \"udp\"}",
        "method": "default"
    });
    let added = api
        .op(Method::POST, "/v1/accounts/initech/policies", Some(rest))
        .await;
    added.expect(StatusCode::CREATED);
    assert_revision(&api, &added, 5);

    let moved = api
        .op(
            Method::POST,
            "/v1/accounts/initech/policies/rest/move",
            Some(json!({"precedence": 10})),
        )
        .await;
    moved.expect(StatusCode::OK);
    assert_revision(&api, &moved, 6);
    let order = |reply: &support::Reply| -> Vec<(String, u64)> {
        reply
            .json
            .as_array()
            .expect("a list")
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap_or("").to_string(),
                    p["precedence"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    };
    let want = vec![("rest".to_string(), 10), ("bank".to_string(), 11)];
    assert_eq!(order(&moved), want);
    let listed = api
        .op(Method::GET, "/v1/accounts/initech/policies", None)
        .await;
    assert_eq!(order(&listed), want);
    assert_eq!(listed.etag(), Some(6));

    let disabled = api
        .op(
            Method::POST,
            "/v1/accounts/initech/policies/bank/disable",
            None,
        )
        .await;
    disabled.expect(StatusCode::OK);
    assert_eq!(disabled.json["enabled"], false);
    assert_revision(&api, &disabled, 7);
    let enabled = api
        .op(
            Method::POST,
            "/v1/accounts/initech/policies/bank/enable",
            None,
        )
        .await;
    enabled.expect(StatusCode::OK);
    assert_eq!(enabled.json["enabled"], true);
    assert_revision(&api, &enabled, 8);
    let read = api
        .op(Method::GET, "/v1/accounts/initech/policies/bank", None)
        .await;
    assert_eq!(read.json["enabled"], true);
    assert_eq!(read.json["precedence"], 11);

    let deleted = api
        .op(Method::DELETE, "/v1/accounts/initech/policies/bank", None)
        .await;
    deleted.expect(StatusCode::NO_CONTENT);
    assert_revision(&api, &deleted, 9);
    let listed = api
        .op(Method::GET, "/v1/accounts/initech/policies", None)
        .await;
    assert_eq!(order(&listed), vec![("rest".to_string(), 10)]);

    assert_eq!(api.node.applied(), (1..=9).collect::<Vec<u64>>());
    let revision = api.op(Method::GET, "/v1/revisions/9", None).await;
    revision.expect(StatusCode::OK);
    assert_eq!(revision.etag(), Some(9));
    assert_eq!(revision.json["author"], "ops");
    assert_eq!(
        revision.json["comment"],
        "DELETE /v1/accounts/initech/policies/bank"
    );
    let history = api.op(Method::GET, "/v1/revisions?limit=3", None).await;
    let numbers: Vec<u64> = history
        .json
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|r| r["number"].as_u64())
        .collect();
    assert_eq!(numbers, vec![9, 8, 7]);
    let audit = api.op(Method::GET, "/v1/audit?limit=1", None).await;
    assert_eq!(audit.json[0]["action"], "config.commit");
    assert_eq!(audit.json[0]["actor"], "ops");
    assert_eq!(audit.json[0]["revision"], 9);
}
