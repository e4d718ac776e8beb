//! With the account's `traffic.udp = false` (the default) a UDP association is set up but its
//! datagrams are refused: the origin sees nothing, the client gets no answer, and the log says
//! `udp_disabled`. TCP through the same listener still leaves from the dedicated IPv4.

mod common;

use std::io::ErrorKind;
use std::net::IpAddr;

use common::socks_udp::*;
use common::*;
use egress_harness::UdpOrigin;

#[test]
fn udp_disabled_refuses_datagrams_but_not_tcp() {
    let setup = Setup {
        udp: false,
        ..Setup::default()
    };
    let scenario = Scenario::start("udp_disabled_refuses_datagrams_but_not_tcp", &setup);
    let origin =
        UdpOrigin::start(&scenario.net.internet, origin_v4(DEDICATED_PORT)).expect("origin");

    let mut control = scenario.client(SOCKS_PORT);
    let relay = socks5_udp_associate(&mut control).expect("UDP ASSOCIATE accepted");
    let socket = udp_socket(&scenario.net.client);
    socket
        .set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .expect("timeout");
    socket
        .send_to(
            &udp_datagram(0, origin_v4(DEDICATED_PORT), b"who am i"),
            relay,
        )
        .expect("send through the relay");
    let mut buf = [0u8; 256];
    match egress_harness::recv_from_resuming(&socket, &mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("expected no answer, got {other:?}"),
    }
    assert_eq!(origin.seen(), vec![], "the origin saw a refused datagram");

    let client_port = local_port(&control);
    let refused = scenario.wait_record("the refused UDP flow", |r| {
        r["transport"] == "udp" && r["src_port"] == client_port
    });
    assert_eq!(field(&refused, "close_reason"), "udp_disabled", "{refused}");
    assert_eq!(refused["dst_port"], DEDICATED_PORT, "{refused}");
    assert_eq!(field(&refused, "dst_ip"), "198.51.100.80", "{refused}");
    drop(control);

    let mut client = scenario.client(SOCKS_PORT);
    let bound = match socks5_connect(&mut client, None, origin_v4(DEDICATED_PORT)) {
        Socks::Connected(bound) => bound,
        other => panic!("SOCKS5 CONNECT: {other:?}"),
    };
    assert_eq!(bound.ip(), IpAddr::from(DEDICATED_V4));
    let (_, answer) = ask_whoami(&mut client, "/", true);
    assert_eq!(answer.seen_ip(), IpAddr::from(DEDICATED_V4));
}
