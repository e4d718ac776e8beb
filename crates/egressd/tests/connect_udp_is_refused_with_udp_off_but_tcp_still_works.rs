//! With the account's `traffic.udp = false`, a CONNECT-UDP request is answered 403 with
//! `udp_disabled` in its Proxy-Status header and body before any datagram moves: the origin
//! sees no QUIC connection and the log records the refusal. A TCP fetch through the HTTP
//! proxy still leaves from the dedicated IPv4, as a client falling back to HTTP/2 would.

mod common;

use std::net::IpAddr;

use common::masque::{h3_get_through_masque, masque_proxy};
use common::*;
use egress_harness::{H3Origin, HarnessError};

#[test]
fn connect_udp_is_refused_with_udp_off_but_tcp_still_works() {
    let setup = Setup {
        udp: false,
        masque: true,
        ..Setup::default()
    };
    let scenario = Scenario::start(
        "connect_udp_is_refused_with_udp_off_but_tcp_still_works",
        &setup,
    );
    let origin = H3Origin::start(&scenario.net.internet, &[origin_v4(DEDICATED_PORT)])
        .expect("HTTP/3 origin");
    let proxy = masque_proxy(&scenario, MASQUE_PORT, None);

    let (answer, _) = h3_get_through_masque(&scenario, &proxy, &origin, origin_v4(DEDICATED_PORT));
    match answer {
        Err(HarnessError::ConnectUdpRefused {
            status,
            headers,
            body,
            ..
        }) => {
            assert_eq!(status, 403, "{headers:?}");
            let proxy_status = headers
                .iter()
                .find(|(name, _)| name == "proxy-status")
                .map(|(_, value)| value.as_str())
                .unwrap_or_else(|| panic!("no proxy-status in {headers:?}"));
            assert!(
                proxy_status.contains("error=http_request_denied")
                    && proxy_status.contains("details=\"udp_disabled\""),
                "{proxy_status}"
            );
            assert_eq!(body, "udp_disabled\n");
        }
        other => panic!("expected a refused CONNECT-UDP, got {other:?}"),
    }
    assert_eq!(origin.seen(), vec![], "the origin saw a QUIC connection");
    let refused = scenario.wait_record("the refused tunnel", |r| {
        r["onramp"] == "masque" && r["transport"] == "udp"
    });
    assert_eq!(field(&refused, "close_reason"), "udp_disabled", "{refused}");
    assert_eq!(field(&refused, "dst_ip"), "198.51.100.80", "{refused}");
    assert_eq!(refused["dst_port"], DEDICATED_PORT, "{refused}");
    assert_eq!(field(&refused, "proxy_endpoint"), "masque", "{refused}");

    let mut client = scenario.client(HTTP_PORT);
    tunnel(&mut client, origin_v4(DEDICATED_PORT), None);
    let (_, answer) = ask_whoami(&mut client, "/", true);
    assert_eq!(answer.seen_ip(), IpAddr::from(DEDICATED_V4));
}
