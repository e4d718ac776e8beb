//! An account-scoped token neither sees nor changes another account, nor the deployment; its
//! views of logs and connections are its own account's.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::Api;

#[tokio::test]
async fn an_account_token_is_refused_outside_its_account() {
    let api = Api::start("cross-account");
    let acme = api.tokens.acme.clone();
    let forbidden = [
        (Method::GET, "/v1/accounts/globex", None),
        (Method::GET, "/v1/accounts/globex/policies", None),
        (Method::GET, "/v1/accounts/globex/users/hank", None),
        (
            Method::POST,
            "/v1/accounts/globex/policies/ops%20console/disable",
            None,
        ),
        (Method::DELETE, "/v1/accounts/globex", None),
        (Method::GET, "/v1/config", None),
        (Method::GET, "/v1/revisions/1", None),
        (Method::GET, "/v1/leased-ips", None),
        (Method::GET, "/v1/port-usage", None),
        (Method::GET, "/v1/status", None),
        (
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": "mine", "name": "Mine"})),
        ),
        (Method::POST, "/v1/locations", Some(json!({"code": "x"}))),
        (Method::GET, "/v1/logs?account=globex", None),
        (Method::GET, "/v1/connections?account=globex", None),
        (
            Method::POST,
            "/v1/explain",
            Some(json!({"account": "globex", "from": "10.0.0.1", "to": "198.18.0.10:443"})),
        ),
        // The account's address space is the operator's to change.
        (
            Method::DELETE,
            "/v1/accounts/acme/dedicated-ips/203.0.113.30",
            None,
        ),
        (
            Method::PUT,
            "/v1/accounts/acme/byoip-prefixes",
            Some(json!([])),
        ),
    ];
    for (method, uri, body) in forbidden {
        let reply = api.call(method.clone(), uri, Some(&acme), body, &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{method} {uri}: {}",
            reply.text
        );
        assert_eq!(reply.json["error"], "forbidden");
    }
    assert_eq!(api.latest(), 1, "nothing changed");

    let accounts = api
        .call(Method::GET, "/v1/accounts", Some(&acme), None, &[])
        .await;
    accounts.expect(StatusCode::OK);
    let ids: Vec<&str> = accounts
        .json
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["acme"]);

    let logs = api
        .call(Method::GET, "/v1/logs", Some(&acme), None, &[])
        .await;
    logs.expect(StatusCode::OK);
    let filter = api.node.last_log_filter.lock().expect("lock").clone();
    assert_eq!(filter.and_then(|f| f.account).as_deref(), Some("acme"));
    assert!(logs
        .json
        .as_array()
        .expect("a list")
        .iter()
        .all(|r| r["account"] == "acme"));
    let live = api
        .call(Method::GET, "/v1/connections", Some(&acme), None, &[])
        .await;
    let live = live.json.as_array().expect("a list");
    assert_eq!(live.len(), 2);
    assert!(live.iter().all(|r| r["account"] == "acme"));

    // Inside its account it reads and writes.
    let policy = json!({"precedence": 5, "name": "ssh", "traffic": "net.dst.port == 22",
                        "method": "default"});
    let own = api
        .call(
            Method::POST,
            "/v1/accounts/acme/policies",
            Some(&acme),
            Some(policy),
            &[],
        )
        .await;
    own.expect(StatusCode::CREATED);
    assert_eq!(own.etag(), Some(2));
    let explained = api
        .call(
            Method::POST,
            "/v1/explain",
            Some(&acme),
            Some(json!({"account": "acme", "from": "10.20.1.5", "to": "198.18.0.10:22"})),
            &[],
        )
        .await;
    explained.expect(StatusCode::OK);
    let ips = api
        .call(
            Method::GET,
            "/v1/accounts/acme/dedicated-ips",
            Some(&acme),
            None,
            &[],
        )
        .await;
    ips.expect(StatusCode::OK);
    // And the other account's token cannot see it.
    let other = api
        .call(
            Method::GET,
            "/v1/accounts/acme/policies/ssh",
            Some(&api.tokens.globex),
            None,
            &[],
        )
        .await;
    other.expect_error(StatusCode::FORBIDDEN, "forbidden");
}
