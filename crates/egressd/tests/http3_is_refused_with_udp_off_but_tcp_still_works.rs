//! With the account's `traffic.udp = false`, the same HTTP/3 attempt through SOCKS5 UDP
//! ASSOCIATE is refused: the QUIC handshake gets no answer (bounded by the client's deadline),
//! the origin completes no connection and the log says `udp_disabled`. A TCP fetch through the
//! same gateway still leaves from the dedicated IPv4, as a client falling back to HTTP/2 would.

mod common;

use std::net::IpAddr;

use common::socks_udp::h3_get_through_socks5;
use common::*;
use egress_harness::{H3Origin, H3Stage, HarnessError};

#[test]
fn http3_is_refused_with_udp_off_but_tcp_still_works() {
    let setup = Setup {
        udp: false,
        ..Setup::default()
    };
    let scenario = Scenario::start("http3_is_refused_with_udp_off_but_tcp_still_works", &setup);
    let origin = H3Origin::start(&scenario.net.internet, &[origin_v4(DEDICATED_PORT)])
        .expect("HTTP/3 origin");

    let (answer, control_port) =
        h3_get_through_socks5(&scenario, &origin, origin_v4(DEDICATED_PORT));
    match answer {
        Err(HarnessError::Http3 {
            stage: H3Stage::Handshake,
            ..
        }) => {}
        other => panic!("expected the QUIC handshake to fail, got {other:?}"),
    }
    assert_eq!(
        origin.seen(),
        vec![],
        "the origin completed a QUIC connection"
    );
    let refused = scenario.wait_record("the refused QUIC flow", |r| {
        r["transport"] == "udp" && r["src_port"] == control_port
    });
    assert_eq!(field(&refused, "close_reason"), "udp_disabled", "{refused}");
    assert_eq!(field(&refused, "dst_ip"), "198.51.100.80", "{refused}");
    assert_eq!(refused["dst_port"], DEDICATED_PORT, "{refused}");

    let mut client = scenario.client(SOCKS_PORT);
    match socks5_connect(&mut client, None, origin_v4(DEDICATED_PORT)) {
        Socks::Connected(bound) => assert_eq!(bound.ip(), IpAddr::from(DEDICATED_V4)),
        other => panic!("SOCKS5 CONNECT: {other:?}"),
    }
    let (_, answer) = ask_whoami(&mut client, "/", true);
    assert_eq!(answer.seen_ip(), IpAddr::from(DEDICATED_V4));
}
