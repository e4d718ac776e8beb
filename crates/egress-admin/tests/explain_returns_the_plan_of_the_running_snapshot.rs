//! `POST /v1/explain` answers with the plan the node's running snapshot gives an intent: the
//! same JSON as `egressd trace --json`.

mod support;

use axum::http::{Method, StatusCode};
use egress_model::{ClientAddr, TargetAddr};
use egress_policy::{explain, Geo, Intent, Snapshot, Transport};
use serde_json::json;
use support::{example, Api};

fn bank_intent() -> serde_json::Value {
    json!({"account": "acme", "user": "alice", "from": "10.20.1.5",
           "to": "198.18.0.10:443", "location": "fra"})
}

#[tokio::test]
async fn explain_names_the_policy_and_the_egress_location() {
    let api = Api::start("explain");
    let reply = api
        .op(Method::POST, "/v1/explain", Some(bank_intent()))
        .await;
    reply.expect(StatusCode::OK);
    let plan = &reply.json["plan"]["Ok"];
    assert_eq!(plan["reason"], "policy_matched");
    assert_eq!(plan["policy"]["name"], "bank via lax");
    assert_eq!(plan["ipv4"]["egress_location"], "lax");
    assert_eq!(plan["ipv4"]["source"], "203.0.113.10");
    assert_eq!(plan["ipv4"]["fallback"], "none");
    assert_eq!(plan["ingress_location"], "fra");
    assert_eq!(reply.json["policies"][0]["outcome"], "matched");

    // The same JSON `egressd trace --json` prints for the same intent.
    let snapshot = Snapshot::compile(&example(), "test", 1).expect("compiles");
    let target = TargetAddr::parse("198.18.0.10:443").expect("target");
    let intent = Intent {
        account: "acme",
        user: Some("alice"),
        client: ClientAddr("10.20.1.5:0".parse().expect("address")),
        internal_src_ip: None,
        proxy_endpoint: None,
        target: &target,
        dst_ip: Some("198.18.0.10".parse().expect("address")),
        transport: Transport::Tcp,
        location: "fra",
        src_geo: Geo::default(),
        dst_geo: Geo::default(),
    };
    let trace = serde_json::to_value(explain(&intent, &snapshot)).expect("json");
    assert_eq!(reply.json, trace);

    // A location the caller declares down sends the policy to its fallback.
    let mut down = bank_intent();
    down["down"] = json!(["lax"]);
    let reply = api.op(Method::POST, "/v1/explain", Some(down)).await;
    let route = &reply.json["plan"]["Ok"]["ipv4"];
    assert_eq!(route["fallback"], "ipv4_fallback");
    assert_eq!(route["egress_location"], "nyc");
}

#[tokio::test]
async fn explain_follows_the_revision_the_node_applied() {
    let api = Api::start("explain-applied");
    api.op(
        Method::POST,
        "/v1/accounts/acme/policies/bank%20via%20lax/disable",
        None,
    )
    .await
    .expect(StatusCode::OK);
    let reply = api
        .op(Method::POST, "/v1/explain", Some(bank_intent()))
        .await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        reply.json["plan"]["Ok"]["policy"]["name"],
        "everything else"
    );
    assert_eq!(reply.json["policies"][0]["outcome"], "disabled");
}

#[tokio::test]
async fn refusals_and_bad_intents() {
    let api = Api::start("explain-refused");
    let unknown = api
        .op(
            Method::POST,
            "/v1/explain",
            Some(json!({"account": "nobody", "from": "10.0.0.1", "to": "198.18.0.10:443"})),
        )
        .await;
    unknown.expect(StatusCode::OK);
    assert_eq!(unknown.json["plan"]["Err"]["code"], "unknown_account");
    for bad in [
        json!({"account": "acme", "from": "not an address", "to": "198.18.0.10:443"}),
        json!({"account": "acme", "from": "10.0.0.1", "to": "no port"}),
        json!({"account": "acme", "from": "10.0.0.1", "to": "a:1", "proto": "sctp"}),
        json!({"account": "acme", "from": "10.0.0.1", "to": "a:1", "colour": "blue"}),
    ] {
        let reply = api.op(Method::POST, "/v1/explain", Some(bad.clone())).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            reply.text
        );
        assert_eq!(reply.json["error"], "bad_request");
    }
}

#[tokio::test]
async fn explain_shows_the_physical_exit_beside_where_the_ip_geolocates() {
    let api = Api::start("explain-geolocation");
    let mut intent = bank_intent();
    intent["to"] = json!("[2001:db8:ba::1]:443");
    let reply = api.op(Method::POST, "/v1/explain", Some(intent)).await;
    reply.expect(StatusCode::OK);
    // DESIGN rule 5 and 6: IPv6 leaves where the user connected (fra) from the policy's /64,
    // which geolocates where the dedicated IP lives (lax).
    let v6 = &reply.json["plan"]["Ok"]["ipv6"];
    assert_eq!(v6["egress_location"], "fra", "{}", reply.text);
    assert_eq!(v6["egress_ip_location"], "lax", "{}", reply.text);
}
