//! A destination port matched by a policy leaves from the account's dedicated IPv4, whichever
//! on-ramp the client used (HTTP CONNECT, HTTP absolute-form, SOCKS5), and the connection log
//! says so: policy, egress address and location, bytes each way, close reason.

mod common;

use std::net::IpAddr;

use common::*;
use serde_json::Value;

/// The fields every successful record carries.
fn assert_dedicated_record(record: &Value, onramp: &str) {
    assert_eq!(field(record, "onramp"), onramp, "{record}");
    assert_eq!(field(record, "account"), "lab", "{record}");
    assert_eq!(
        field(record, "policy_name"),
        "origin via dedicated",
        "{record}"
    );
    assert_eq!(field(record, "egress_method"), "dedicated", "{record}");
    assert_eq!(
        field(record, "egress_ip"),
        DEDICATED_V4.to_string(),
        "{record}"
    );
    assert_eq!(field(record, "egress_location"), "lab", "{record}");
    assert_eq!(field(record, "egress_ip_location"), "lab", "{record}");
    assert_eq!(field(record, "dst_ip"), "198.51.100.80", "{record}");
    assert_eq!(record["dst_port"], DEDICATED_PORT, "{record}");
    assert_eq!(field(record, "close_reason"), "closed", "{record}");
}

#[test]
fn dedicated_ipv4_is_what_the_origin_sees() {
    let scenario = Scenario::start("dedicated_ipv4_is_what_the_origin_sees", &Setup::default());
    let dedicated: IpAddr = DEDICATED_V4.into();

    // HTTP CONNECT, asking whoami's JSON view so the source port can be compared with the log.
    let mut client = scenario.client(HTTP_PORT);
    tunnel(&mut client, origin_v4(DEDICATED_PORT), None);
    let (sent, answer) = ask_whoami(&mut client, "/json", true);
    let seen: Value = serde_json::from_slice(&answer.body).expect("whoami JSON");
    assert_eq!(seen["address"], dedicated.to_string(), "{seen}");
    assert_closed(&mut client, "tunnel after whoami closed");
    let port = local_port(&client);
    drop(client);
    let record = scenario.record_of(port);
    assert_dedicated_record(&record, "http_connect");
    assert_eq!(record["egress_port"], seen["port"], "{record}");
    assert_eq!(record["bytes_client_to_upstream"], sent, "{record}");
    assert_eq!(
        record["bytes_upstream_to_client"], answer.wire_len,
        "{record}"
    );
    assert_eq!(field(&record, "src_ip"), "10.1.0.2", "{record}");
    assert_eq!(field(&record, "proxy_endpoint"), "http", "{record}");

    // HTTP absolute-form.
    let mut client = scenario.client(HTTP_PORT);
    let answer = http_get(&mut client, origin_v4(DEDICATED_PORT), "/", None);
    assert_eq!(answer.seen_ip(), dedicated);
    let port = local_port(&client);
    drop(client);
    let record = scenario.record_of(port);
    assert_dedicated_record(&record, "http_forward");
    assert_eq!(
        record["bytes_upstream_to_client"], answer.wire_len,
        "{record}"
    );
    assert!(
        record["bytes_client_to_upstream"].as_u64() > Some(0),
        "{record}"
    );

    // SOCKS5: the reply's bound address is the egress address too.
    let mut client = scenario.client(SOCKS_PORT);
    let bound = match socks5_connect(&mut client, None, origin_v4(DEDICATED_PORT)) {
        Socks::Connected(bound) => bound,
        other => panic!("SOCKS5 CONNECT: {other:?}"),
    };
    assert_eq!(bound.ip(), dedicated);
    let (sent, answer) = ask_whoami(&mut client, "/", true);
    assert_eq!(answer.seen_ip(), dedicated);
    assert_closed(&mut client, "SOCKS tunnel after whoami closed");
    let port = local_port(&client);
    drop(client);
    let record = scenario.record_of(port);
    assert_dedicated_record(&record, "socks5");
    assert_eq!(record["egress_port"], bound.port(), "{record}");
    assert_eq!(record["bytes_client_to_upstream"], sent, "{record}");
    assert_eq!(
        record["bytes_upstream_to_client"], answer.wire_len,
        "{record}"
    );
    assert_eq!(field(&record, "proxy_endpoint"), "socks5", "{record}");
}
