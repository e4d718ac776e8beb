//! A node in store mode, changed only through its admin API: an account created, two dedicated
//! IPs leased and policies added, replaced, moved and deleted over HTTP. Every change shows in
//! the address the origin sees on the next connection, while a tunnel opened before a change
//! keeps working on its old address and is logged with its old policy. The API refuses a stale
//! `If-Match` (409), a dedicated policy without `ipv4_fallback` (422, with the path and rule) and
//! an account token reaching into another account (403), and none of these changes anything.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::admin::{segment, Admin};
use common::*;
use serde_json::{json, Value};

/// The first dedicated IP leased to the account, and its /64.
const A: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const A_V6: &str = "2001:db8:e000:10::/64";
/// The second one, in the same (single) location.
const B: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 11);
const B_V6: &str = "2001:db8:e000:11::/64";

/// Routed to the gateway and local in it.
const EGRESS: [&str; 6] = [
    "203.0.113.10/32",
    "203.0.113.11/32",
    A_V6,
    B_V6,
    DEFAULT_V4_NET,
    DEFAULT_V6_NET,
];

/// The account's user, who authenticates on the shared listener.
const ALICE: (&str, &str) = ("alice", "alice-secret");

/// The deployment without any customer account: one location, the leased pools, and the one
/// listener clients use (listeners are opened at start). It belongs to a placeholder account
/// without users; accounts share a listener when each authenticates by credentials, so the
/// account created over the API can use it too.
fn imported() -> String {
    format!(
        r#"[deployment]
single_location = true

[[address_pools]]
name = "leased-v4"
prefix = "203.0.113.0/24"

[[address_pools]]
name = "leased-v6"
prefix = "2001:db8:e000::/48"

[[locations]]
code = "lab"
city = "Labville"
region = "ZZ-LB"
country = "ZZ"
latitude = 0.0
longitude = 0.0
ipv6_slice = 0
default_egress = {{ ipv4 = "{DEFAULT_V4_NET}", ipv6 = "{DEFAULT_V6_NET}" }}

[[nodes]]
id = "lab-1"
location = "lab"

[[accounts]]
id = "listener-owner"
name = "Owns the listener until customers share it"

[[accounts.proxy_endpoints]]
name = "http"
protocol = "http"
listen = "{GATEWAY}:{HTTP_PORT}"
authorization = "credentials"
"#
    )
}

/// A policy sending the origin's dedicated port out of `ipv4`.
fn dedicated_policy(id: &str, precedence: u32, name: &str, ipv4: Ipv4Addr) -> Value {
    json!({
        "id": id, "precedence": precedence, "name": name,
        "traffic": format!("net.dst.port == {DEDICATED_PORT}"),
        "method": {"dedicated": {"ipv4": ipv4.to_string(), "ipv4_fallback": "0.0.0.0"}}
    })
}

/// Opens a new tunnel to the origin's `port`, asks whoami once and closes; returns the address
/// the origin saw and the connection's log record.
#[track_caller]
fn new_connection(scenario: &Scenario, port: u16) -> (IpAddr, Value) {
    let mut client = scenario.client(HTTP_PORT);
    tunnel(&mut client, origin_v4(port), Some(ALICE));
    let (_, answer) = ask_whoami(&mut client, "/", true);
    let seen = answer.seen_ip();
    assert_closed(&mut client, "the tunnel after whoami closed");
    let port = local_port(&client);
    drop(client);
    (seen, scenario.record_of(port))
}

/// Fails unless a new connection to the dedicated port leaves from `expected` under `policy`.
#[track_caller]
fn assert_new_connection_uses(scenario: &Scenario, expected: IpAddr, policy: &str) {
    let (seen, record) = new_connection(scenario, DEDICATED_PORT);
    assert_eq!(seen, expected, "the origin saw {seen}; record {record}");
    assert_eq!(
        field(&record, "egress_ip"),
        expected.to_string(),
        "{record}"
    );
    assert_eq!(field(&record, "policy_id"), policy, "{record}");
    assert_eq!(field(&record, "account"), "acme", "{record}");
    assert_eq!(field(&record, "user"), ALICE.0, "{record}");
}

/// The latest stored revision and the one the node runs, from `/v1/status`.
#[track_caller]
fn revisions(admin: &Admin) -> (u64, u64) {
    let status = admin.get("/v1/status").expect(200);
    let latest = status.json["latest_revision"]
        .as_u64()
        .expect("latest_revision");
    let running = status.json["revision"].as_u64().expect("revision");
    (latest, running)
}

#[test]
fn api_changes_apply_to_new_connections_and_spare_open_ones() {
    let mut scenario = Scenario::start_store(
        "api_changes_apply_to_new_connections_and_spare_open_ones",
        &imported(),
        &EGRESS,
        &[DEDICATED_PORT, DEFAULT_PORT],
        1,
    );
    let operator = scenario.token("ops", None, true);
    let admin = scenario.admin(&operator);
    admin.wait_ready();
    let status = admin.get("/v1/status").expect(200);
    assert_eq!(status.json["mode"]["kind"], "store", "{}", status.text);
    assert_eq!(status.json["revision"], 1, "{}", status.text);

    // Nobody knows alice yet.
    let mut refused = scenario.client(HTTP_PORT);
    let answer = http_connect(
        &mut refused,
        &authority(origin_v4(DEDICATED_PORT)),
        Some(ALICE),
    );
    assert_eq!(answer.status, 407, "{answer:?}");
    drop(refused);

    // An account with a user, sharing the listener, with only a catch-all policy.
    let created = admin
        .post(
            "/v1/accounts",
            &json!({
                "id": "acme", "name": "Acme",
                "proxy_endpoints": [{
                    "name": "http", "protocol": "http", "listen": format!("{GATEWAY}:{HTTP_PORT}"),
                    "authorization": "credentials"
                }],
                "users": [{"name": ALICE.0, "password": ALICE.1}],
                "policies": [{
                    "precedence": 1000, "name": "everything else",
                    "traffic": "net.protocol in {\"tcp\" \"udp\"}", "method": "default"
                }]
            }),
        )
        .expect(201);
    assert_eq!(created.etag(), Some(2));
    let (seen, record) = new_connection(&scenario, DEDICATED_PORT);
    assert!(in_prefix(seen, DEFAULT_V4_NET), "{seen}: {record}");
    assert_eq!(field(&record, "account"), "acme", "{record}");

    // Lease two dedicated IPs from the operator's pool.
    for (ipv4, ipv6) in [(A, A_V6), (B, B_V6)] {
        admin
            .post(
                "/v1/accounts/acme/dedicated-ips",
                &json!({"ipv4": ipv4.to_string(), "ipv6": ipv6, "location": "lab"}),
            )
            .expect(201);
    }
    let leased = admin.get("/v1/leased-ips").expect(200);
    let leased: Vec<(String, String, String)> = leased
        .json
        .as_array()
        .expect("a list")
        .iter()
        .map(|l| {
            (
                l["ipv4"].as_str().unwrap_or_default().to_string(),
                l["account"].as_str().unwrap_or_default().to_string(),
                l["pool"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let lease = |ip: Ipv4Addr| (ip.to_string(), "acme".to_string(), "leased-v4".to_string());
    assert_eq!(leased, vec![lease(A), lease(B)]);

    // A policy sends the origin's port out of A: new connections use it.
    let policy = admin
        .post(
            "/v1/accounts/acme/policies",
            &dedicated_policy("to-origin", 10, "origin via A", A),
        )
        .expect(201);
    let before_change = policy.etag().expect("ETag of the new revision");
    assert_eq!(revisions(&admin), (before_change, before_change));
    assert_new_connection_uses(&scenario, A.into(), "to-origin");
    let (seen, _) = new_connection(&scenario, DEFAULT_PORT);
    assert!(in_prefix(seen, DEFAULT_V4_NET), "{seen}");

    // A tunnel opened now, then the policy moved to B.
    let mut open = scenario.client(HTTP_PORT);
    tunnel(&mut open, origin_v4(DEDICATED_PORT), Some(ALICE));
    let (_, answer) = ask_whoami(&mut open, "/", false);
    assert_eq!(answer.seen_ip(), IpAddr::from(A));
    let changed = admin
        .call(
            "PUT",
            "/v1/accounts/acme/policies/to-origin",
            Some(&dedicated_policy("to-origin", 10, "origin via B", B)),
            &[("If-Match", &format!("\"{before_change}\""))],
        )
        .expect(200);
    let after_change = changed.etag().expect("ETag");
    assert_eq!(after_change, before_change + 1);
    assert_eq!(revisions(&admin), (after_change, after_change));

    // The open tunnel still carries traffic, still from A; the live view shows its old plan.
    let live = admin.get("/v1/connections?account=acme").expect(200);
    let mine = live
        .json
        .as_array()
        .expect("a list")
        .iter()
        .find(|c| c["src_port"] == local_port(&open))
        .unwrap_or_else(|| panic!("the open tunnel is not among {}", live.text))
        .clone();
    assert_eq!(mine["egress_ip"], A.to_string(), "{mine}");
    assert_eq!(mine["policy_name"], "origin via A", "{mine}");
    for _ in 0..3 {
        let (_, answer) = ask_whoami(&mut open, "/", false);
        assert_eq!(answer.seen_ip(), IpAddr::from(A), "the open tunnel moved");
    }
    // New connections follow the new plan.
    let (seen, record) = new_connection(&scenario, DEDICATED_PORT);
    assert_eq!(seen, IpAddr::from(B), "{record}");
    assert_eq!(field(&record, "policy_name"), "origin via B", "{record}");
    // The tunnel, closed now, is logged with the plan it was given.
    let (_, answer) = ask_whoami(&mut open, "/", true);
    assert_eq!(answer.seen_ip(), IpAddr::from(A));
    assert_closed(&mut open, "the tunnel after its last exchange");
    let port = local_port(&open);
    drop(open);
    let record = scenario.record_of(port);
    assert_eq!(field(&record, "egress_ip"), A.to_string(), "{record}");
    assert_eq!(field(&record, "policy_name"), "origin via A", "{record}");
    assert_eq!(field(&record, "close_reason"), "closed", "{record}");
    assert!(
        record["bytes_upstream_to_client"].as_u64() > Some(0),
        "{record}"
    );

    // Reorder: a second policy for the same port sends it by default once moved in front.
    admin
        .post(
            "/v1/accounts/acme/policies",
            &json!({"id": "origin-default", "precedence": 20, "name": "origin by default",
                    "traffic": format!("net.dst.port == {DEDICATED_PORT}"), "method": "default"}),
        )
        .expect(201);
    assert_new_connection_uses(&scenario, B.into(), "to-origin");
    let moved = admin
        .post(
            "/v1/accounts/acme/policies/origin-default/move",
            &json!({"precedence": 10}),
        )
        .expect(200);
    let order: Vec<(String, u64)> = moved
        .json
        .as_array()
        .expect("the policies in order")
        .iter()
        .map(|p| {
            let id = p["id"].as_str().or(p["name"].as_str()).unwrap_or_default();
            (id.to_string(), p["precedence"].as_u64().unwrap_or_default())
        })
        .collect();
    let expected: Vec<(String, u64)> = [
        ("origin-default", 10),
        ("to-origin", 11),
        ("everything else", 1000),
    ]
    .iter()
    .map(|(id, p)| (id.to_string(), *p))
    .collect();
    assert_eq!(order, expected);
    let (seen, record) = new_connection(&scenario, DEDICATED_PORT);
    assert!(in_prefix(seen, DEFAULT_V4_NET), "{seen}: {record}");
    assert_eq!(field(&record, "policy_id"), "origin-default", "{record}");

    // Delete it: the dedicated policy is first again.
    let deleted = admin.delete("/v1/accounts/acme/policies/origin-default");
    let deleted = deleted.expect(204);
    let latest = deleted.etag().expect("ETag of the delete");
    admin
        .get("/v1/accounts/acme/policies/origin-default")
        .expect_error(404, "not_found");
    assert_new_connection_uses(&scenario, B.into(), "to-origin");

    // A write based on an old revision is refused and changes nothing.
    let stale = admin.call(
        "PUT",
        "/v1/accounts/acme/policies/to-origin",
        Some(&dedicated_policy("to-origin", 10, "origin via A again", A)),
        &[("If-Match", &format!("\"{before_change}\""))],
    );
    let stale = stale.expect_error(409, "conflict");
    assert_eq!(stale.json["expected"], before_change, "{}", stale.text);
    assert_eq!(stale.json["current"], latest, "{}", stale.text);
    assert_eq!(revisions(&admin), (latest, latest));
    assert_new_connection_uses(&scenario, B.into(), "to-origin");

    // A dedicated policy without ipv4_fallback breaks rule 3: 422 with the path and the rule.
    let invalid = admin.post(
        "/v1/accounts/acme/policies",
        &json!({"precedence": 30, "name": "no fallback", "traffic": "net.dst.port == 22",
                "method": {"dedicated": {"ipv4": A.to_string()}}}),
    );
    let invalid = invalid.expect_error(422, "invalid");
    let problems = invalid.json["problems"].as_array().expect("problems");
    assert!(
        problems.iter().any(|p| p["path"]
            == "accounts[\"acme\"].policies[\"no fallback\"].method.ipv4_fallback"
            && p["rule"] == "fallback_required"),
        "{}",
        invalid.text
    );
    assert_eq!(revisions(&admin), (latest, latest));
    admin
        .get(&format!(
            "/v1/accounts/acme/policies/{}",
            segment("no fallback")
        ))
        .expect_error(404, "not_found");

    // Another account's token neither sees nor changes acme.
    let globex_created = admin
        .post("/v1/accounts", &json!({"id": "globex", "name": "Globex"}))
        .expect(201);
    let latest = globex_created.etag().expect("ETag");
    let globex = scenario.admin(&scenario.token("globex-ops", Some("globex"), true));
    globex.get("/v1/accounts/globex/policies").expect(200);
    let attempts = [
        ("GET", "/v1/accounts/acme", None),
        ("GET", "/v1/accounts/acme/policies", None),
        ("GET", "/v1/accounts/acme/policies/to-origin", None),
        (
            "PUT",
            "/v1/accounts/acme/policies/to-origin",
            Some(dedicated_policy("to-origin", 10, "hijacked", A)),
        ),
        ("DELETE", "/v1/accounts/acme/policies/to-origin", None),
        ("POST", "/v1/accounts/acme/policies/to-origin/disable", None),
        ("GET", "/v1/connections?account=acme", None),
    ];
    for (method, path, body) in attempts {
        let reply = globex.call(method, path, body.as_ref(), &[]);
        reply.expect_error(403, "forbidden");
    }
    let visible = globex.get("/v1/accounts").expect(200);
    let ids: Vec<&str> = visible
        .json
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["globex"]);
    admin
        .anonymous()
        .get("/v1/accounts/acme/policies")
        .expect_error(401, "unauthorized");
    assert_eq!(revisions(&admin), (latest, latest));
    assert_new_connection_uses(&scenario, B.into(), "to-origin");

    scenario.assert_gateway_running();
}
