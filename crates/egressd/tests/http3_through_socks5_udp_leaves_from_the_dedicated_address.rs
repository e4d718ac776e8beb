//! HTTP/3 through SOCKS5 UDP ASSOCIATE: a quinn/h3 client whose QUIC datagrams travel through
//! the gateway's UDP association fetches from an HTTP/3 origin, which sees the account's
//! dedicated IPv4, and over IPv6 an address inside the dedicated /64. Each association's QUIC
//! flow is logged as one `udp` record with that egress address.

mod common;

use std::net::IpAddr;

use common::socks_udp::h3_get_through_socks5;
use common::*;
use egress_harness::H3Origin;
use serde_json::Value;

#[test]
fn http3_through_socks5_udp_leaves_from_the_dedicated_address() {
    let setup = Setup {
        udp: true,
        ..Setup::default()
    };
    let scenario = Scenario::start(
        "http3_through_socks5_udp_leaves_from_the_dedicated_address",
        &setup,
    );
    let origin = H3Origin::start(
        &scenario.net.internet,
        &[origin_v4(DEDICATED_PORT), origin_v6(DEDICATED_PORT)],
    )
    .expect("HTTP/3 origin");

    let mut seen = Vec::new();
    for server in [origin_v4(DEDICATED_PORT), origin_v6(DEDICATED_PORT)] {
        let (answer, control_port) = h3_get_through_socks5(&scenario, &origin, server);
        let body = answer.unwrap_or_else(|e| panic!("HTTP/3 GET of {server} through SOCKS5: {e}"));
        let source = H3Origin::seen_in_answer(&body)
            .unwrap_or_else(|| panic!("the origin's answer {body:?} names no address"));
        let flow = scenario.wait_record(&format!("the QUIC flow to {server}"), |r: &Value| {
            r["transport"] == "udp" && r["src_port"] == control_port
        });
        assert_eq!(field(&flow, "dst_ip"), server.ip().to_string(), "{flow}");
        assert_eq!(field(&flow, "egress_method"), "dedicated", "{flow}");
        assert_eq!(field(&flow, "egress_ip"), source.ip().to_string(), "{flow}");
        assert_eq!(flow["egress_port"], source.port(), "{flow}");
        seen.push(source);
    }

    let [v4, v6] = seen[..] else {
        unreachable!("two fetches")
    };
    assert_eq!(v4.ip(), IpAddr::from(DEDICATED_V4), "over IPv4");
    assert!(
        v6.is_ipv6() && in_prefix(v6.ip(), DEDICATED_V6_NET),
        "over IPv6 the origin saw {v6}, outside {DEDICATED_V6_NET}"
    );
    assert_eq!(origin.seen(), seen, "one QUIC connection per fetch");
}
