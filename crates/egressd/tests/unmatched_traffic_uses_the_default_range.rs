//! Traffic no dedicated policy matches (another destination port) leaves from the location's
//! shared default range, over IPv4 and IPv6, through both on-ramps, and the log names the
//! catch-all policy and the default method.

mod common;

use std::net::IpAddr;

use common::*;
use serde_json::Value;

fn assert_default_record(record: &Value, seen: IpAddr) {
    assert_eq!(field(record, "policy_name"), "everything else", "{record}");
    assert_eq!(field(record, "egress_method"), "default", "{record}");
    assert_eq!(field(record, "egress_ip"), seen.to_string(), "{record}");
    assert_eq!(field(record, "egress_location"), "lab", "{record}");
    assert_eq!(record["dst_port"], DEFAULT_PORT, "{record}");
    assert_eq!(field(record, "close_reason"), "closed", "{record}");
}

#[test]
fn unmatched_traffic_uses_the_default_range() {
    let scenario = Scenario::start(
        "unmatched_traffic_uses_the_default_range",
        &Setup::default(),
    );

    for (origin, range) in [
        (origin_v4(DEFAULT_PORT), DEFAULT_V4_NET),
        (origin_v6(DEFAULT_PORT), DEFAULT_V6_NET),
    ] {
        // HTTP CONNECT.
        let mut client = scenario.client(HTTP_PORT);
        tunnel(&mut client, origin, None);
        let (_, answer) = ask_whoami(&mut client, "/", true);
        let seen = answer.seen_ip();
        assert!(
            in_prefix(seen, range),
            "{origin} saw {seen}, outside {range}"
        );
        assert_ne!(seen, IpAddr::from(DEDICATED_V4));
        assert_closed(&mut client, "tunnel after whoami closed");
        let port = local_port(&client);
        drop(client);
        assert_default_record(&scenario.record_of(port), seen);

        // HTTP absolute-form.
        let mut client = scenario.client(HTTP_PORT);
        let answer = http_get(&mut client, origin, "/", None);
        assert!(
            in_prefix(answer.seen_ip(), range),
            "{origin} saw {}",
            answer.seen_ip()
        );
        let port = local_port(&client);
        drop(client);
        assert_default_record(&scenario.record_of(port), answer.seen_ip());

        // SOCKS5.
        let mut client = scenario.client(SOCKS_PORT);
        match socks5_connect(&mut client, None, origin) {
            Socks::Connected(bound) => assert!(in_prefix(bound.ip(), range), "bound {bound}"),
            other => panic!("SOCKS5 CONNECT {origin}: {other:?}"),
        }
        let (_, answer) = ask_whoami(&mut client, "/", true);
        assert!(
            in_prefix(answer.seen_ip(), range),
            "{origin} saw {}",
            answer.seen_ip()
        );
        assert_closed(&mut client, "SOCKS tunnel after whoami closed");
        let port = local_port(&client);
        drop(client);
        assert_default_record(&scenario.record_of(port), answer.seen_ip());
    }

    // The policy's port, from the same client, still leaves from the dedicated IP: the default
    // range above is the policy's choice, not the only address the gateway has.
    let mut client = scenario.client(HTTP_PORT);
    let answer = http_get(&mut client, origin_v4(DEDICATED_PORT), "/", None);
    assert_eq!(answer.seen_ip(), IpAddr::from(DEDICATED_V4));
}
