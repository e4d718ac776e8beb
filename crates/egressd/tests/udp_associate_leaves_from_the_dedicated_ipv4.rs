//! SOCKS5 UDP ASSOCIATE: a datagram to a policy-matched port leaves from the account's
//! dedicated IPv4 and one to any other port from the default range; the reply comes back
//! wrapped in the SOCKS5 UDP header. Fragments are dropped. Closing the control connection
//! ends the association and logs one `udp` record per flow with bytes and datagrams each way.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::socks_udp::*;
use common::*;
use egress_harness::UdpOrigin;
use serde_json::Value;

#[test]
fn udp_associate_leaves_from_the_dedicated_ipv4() {
    let setup = Setup {
        udp: true,
        ..Setup::default()
    };
    let scenario = Scenario::start("udp_associate_leaves_from_the_dedicated_ipv4", &setup);
    let internet = &scenario.net.internet;
    let dedicated_origin = UdpOrigin::start(internet, origin_v4(DEDICATED_PORT)).expect("origin");
    let default_origin = UdpOrigin::start(internet, origin_v4(DEFAULT_PORT)).expect("origin");

    let mut control = scenario.client(SOCKS_PORT);
    let relay = socks5_udp_associate(&mut control).expect("UDP ASSOCIATE accepted");
    assert_eq!(
        relay.ip(),
        IpAddr::from(GATEWAY),
        "the relay is on the listener's address"
    );
    let socket = udp_socket(&scenario.net.client);

    let dedicated_seen = udp_whoami(&socket, relay, origin_v4(DEDICATED_PORT));
    assert_eq!(dedicated_seen.ip(), IpAddr::from(DEDICATED_V4));
    // A second datagram to the same destination stays in the same flow (same source port).
    let again = udp_whoami(&socket, relay, origin_v4(DEDICATED_PORT));
    assert_eq!(again, dedicated_seen);
    let default_seen = udp_whoami(&socket, relay, origin_v4(DEFAULT_PORT));
    assert!(
        in_prefix(default_seen.ip(), DEFAULT_V4_NET),
        "{default_seen} is not in the default range"
    );

    // A fragment is dropped: the origin never sees it.
    socket
        .send_to(
            &udp_datagram(1, origin_v4(DEFAULT_PORT), b"fragment"),
            relay,
        )
        .expect("send a fragment");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(dedicated_origin.seen(), vec![dedicated_seen; 2]);
    assert_eq!(default_origin.seen(), vec![default_seen]);

    let client_port = local_port(&control);
    drop(control);
    let flow_to = |port: u16| {
        scenario.wait_record(&format!("the UDP flow to port {port}"), |r: &Value| {
            r["transport"] == "udp" && r["src_port"] == client_port && r["dst_port"] == port
        })
    };
    let request = b"who am i".len() as u64;
    let dedicated = flow_to(DEDICATED_PORT);
    assert_eq!(
        field(&dedicated, "policy_name"),
        "origin via dedicated",
        "{dedicated}"
    );
    assert_eq!(
        field(&dedicated, "egress_method"),
        "dedicated",
        "{dedicated}"
    );
    assert_eq!(
        field(&dedicated, "egress_ip"),
        DEDICATED_V4.to_string(),
        "{dedicated}"
    );
    assert_eq!(
        dedicated["egress_port"],
        dedicated_seen.port(),
        "{dedicated}"
    );
    assert_eq!(field(&dedicated, "dst_ip"), "198.51.100.80", "{dedicated}");
    assert_eq!(field(&dedicated, "onramp"), "socks5", "{dedicated}");
    assert_eq!(field(&dedicated, "close_reason"), "closed", "{dedicated}");
    assert_eq!(dedicated["datagrams_client_to_upstream"], 2, "{dedicated}");
    assert_eq!(dedicated["datagrams_upstream_to_client"], 2, "{dedicated}");
    assert_eq!(
        dedicated["bytes_client_to_upstream"],
        2 * request,
        "{dedicated}"
    );
    let answer = dedicated_seen.to_string().len() as u64;
    assert_eq!(
        dedicated["bytes_upstream_to_client"],
        2 * answer,
        "{dedicated}"
    );

    let default = flow_to(DEFAULT_PORT);
    assert_eq!(
        field(&default, "policy_name"),
        "everything else",
        "{default}"
    );
    assert_eq!(field(&default, "egress_method"), "default", "{default}");
    assert_eq!(
        field(&default, "egress_ip"),
        default_seen.ip().to_string(),
        "{default}"
    );
    assert_eq!(field(&default, "close_reason"), "closed", "{default}");
    // The fragment was not counted as relayed.
    assert_eq!(default["datagrams_client_to_upstream"], 1, "{default}");
    assert_eq!(default["datagrams_upstream_to_client"], 1, "{default}");

    // TCP records carry no datagram counts.
    let mut client = scenario.client(SOCKS_PORT);
    let bound = match socks5_connect(&mut client, None, origin_v4(DEDICATED_PORT)) {
        Socks::Connected(bound) => bound,
        other => panic!("SOCKS5 CONNECT: {other:?}"),
    };
    assert_eq!(bound.ip(), IpAddr::from(DEDICATED_V4));
    let port = local_port(&client);
    drop(client);
    let tcp = scenario.record_of(port);
    assert_eq!(field(&tcp, "transport"), "tcp", "{tcp}");
    assert!(tcp.get("datagrams_client_to_upstream").is_none(), "{tcp}");
}
