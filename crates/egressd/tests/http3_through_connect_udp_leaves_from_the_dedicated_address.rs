//! MASQUE CONNECT-UDP: an HTTP/3 client opens a CONNECT-UDP tunnel to the gateway over HTTP/3
//! and runs a second QUIC connection inside it to an HTTP/3 origin, which sees the account's
//! dedicated IPv4, and over IPv6 an address inside the dedicated /64. Each tunnel is logged as
//! one `udp` record of the `masque` on-ramp with that egress address and datagrams both ways.

mod common;

use std::net::IpAddr;

use common::masque::{h3_get_through_masque, masque_proxy};
use common::*;
use egress_harness::H3Origin;
use serde_json::Value;

#[test]
fn http3_through_connect_udp_leaves_from_the_dedicated_address() {
    let setup = Setup {
        udp: true,
        masque: true,
        ..Setup::default()
    };
    let scenario = Scenario::start(
        "http3_through_connect_udp_leaves_from_the_dedicated_address",
        &setup,
    );
    let origin = H3Origin::start(
        &scenario.net.internet,
        &[origin_v4(DEDICATED_PORT), origin_v6(DEDICATED_PORT)],
    )
    .expect("HTTP/3 origin");
    let proxy = masque_proxy(&scenario, MASQUE_PORT, None);

    let mut seen = Vec::new();
    for server in [origin_v4(DEDICATED_PORT), origin_v6(DEDICATED_PORT)] {
        let (answer, client_port) = h3_get_through_masque(&scenario, &proxy, &origin, server);
        let body =
            answer.unwrap_or_else(|e| panic!("HTTP/3 GET of {server} through CONNECT-UDP: {e}"));
        let source = H3Origin::seen_in_answer(&body)
            .unwrap_or_else(|| panic!("the origin's answer {body:?} names no address"));
        let client_port = client_port.expect("the tunnel opened");
        let flow = scenario.wait_record(&format!("the tunnel to {server}"), |r: &Value| {
            r["onramp"] == "masque" && r["src_port"] == client_port
        });
        assert_eq!(field(&flow, "transport"), "udp", "{flow}");
        assert_eq!(field(&flow, "proxy_endpoint"), "masque", "{flow}");
        assert_eq!(field(&flow, "dst_ip"), server.ip().to_string(), "{flow}");
        assert_eq!(flow["dst_port"], DEDICATED_PORT, "{flow}");
        assert_eq!(field(&flow, "egress_method"), "dedicated", "{flow}");
        assert_eq!(field(&flow, "egress_ip"), source.ip().to_string(), "{flow}");
        assert_eq!(flow["egress_port"], source.port(), "{flow}");
        for direction in [
            "datagrams_client_to_upstream",
            "datagrams_upstream_to_client",
        ] {
            assert!(
                flow[direction].as_u64().is_some_and(|n| n > 0),
                "{direction}: {flow}"
            );
        }
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
