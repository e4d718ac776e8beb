//! With a budget of one flow per egress address and destination, a forwarded UDP flow holds
//! fra's slot: a second association at lax sending to the same destination is refused by fra,
//! and lax logs that flow with fra's close reason (`egress_port_allocation_error`) and the
//! plan, while its datagram never reaches the origin.

mod common;

use std::net::IpAddr;

use common::fleet::*;
use common::socks_udp::*;
use common::*;
use egress_harness::UdpOrigin;
use serde_json::Value;

const LAX: usize = 0;

#[test]
fn forwarded_udp_refusal_carries_the_egress_close_reason() {
    let mut fleet = Fleet::build("forwarded_udp_refusal_carries_the_egress_close_reason", &[]);
    let config = std::fs::read_to_string(&fleet.config).expect("read the configuration");
    std::fs::write(
        &fleet.config,
        format!("[deployment]\nmax_connections_per_destination = 1\n\n{config}"),
    )
    .expect("write the configuration");
    fleet.start_nodes();
    let origin = UdpOrigin::start(&fleet.net.internet, origin_v4(PINNED_FRA_PORT)).expect("origin");

    // The first association's flow leaves from fra and holds the slot while it lives.
    let mut first = fleet.client(LAX, FLEET_SOCKS_PORT);
    let first_relay = socks5_udp_associate(&mut first).expect("UDP ASSOCIATE accepted");
    let first_socket = udp_socket(&fleet.net.client);
    let seen = udp_whoami(&first_socket, first_relay, origin_v4(PINNED_FRA_PORT));
    assert_eq!(seen.ip(), IpAddr::from(FRA_V4));

    // The second one's flow to the same destination is refused at fra.
    let mut second = fleet.client(LAX, FLEET_SOCKS_PORT);
    let second_relay = socks5_udp_associate(&mut second).expect("UDP ASSOCIATE accepted");
    let second_socket = udp_socket(&fleet.net.client);
    second_socket
        .send_to(
            &udp_datagram(0, origin_v4(PINNED_FRA_PORT), b"who am i"),
            second_relay,
        )
        .expect("send through the relay");
    let second_port = local_port(&second);
    let refused = fleet.wait_record(LAX, "the refused flow", |r: &Value| {
        r["transport"] == "udp" && r["src_port"] == second_port
    });
    assert_eq!(
        refused["close_reason"], "egress_port_allocation_error",
        "{refused}"
    );
    assert_eq!(refused["dst_port"], PINNED_FRA_PORT, "{refused}");
    assert_eq!(refused["egress_ip"], FRA_V4.to_string(), "{refused}");
    assert_eq!(refused["ingress_location"], "lax", "{refused}");
    assert_eq!(refused["egress_location"], "fra", "{refused}");
    assert_eq!(refused["datagrams_client_to_upstream"], 0, "{refused}");
    assert_eq!(origin.seen(), vec![seen], "the refused datagram never left");
    drop(second);
    drop(first);
}
