//! An on-net destination with a policy pinning fra's IPv4, reached from lax: the connection
//! leaves locally (lax's uplink, lax's default range) and starts with a PROXY protocol v2
//! header whose source is fra's dedicated IPv4, so the destination still attributes it.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};

use common::fleet::*;
use common::*;
use egress_harness::ProxyV2Origin;

const LAX: usize = 0;

#[test]
fn on_net_destination_carries_the_dedicated_ipv4() {
    let fleet = Fleet::start("on_net_destination_carries_the_dedicated_ipv4", &[]);
    let origin = ProxyV2Origin::start(
        &fleet.net.internet,
        SocketAddr::new(ON_NET_V4.into(), ON_NET_PORT),
    )
    .expect("PROXY v2 origin");
    let lax_before = fleet.uplink(LAX);

    let mut client = fleet.client(LAX, FLEET_HTTP_PORT);
    tunnel(
        &mut client,
        SocketAddr::new(ON_NET_V4.into(), ON_NET_PORT),
        None,
    );
    client.write_all(b"who\n").expect("ask");
    let mut answer = String::new();
    client.read_to_string(&mut answer).expect("answer");
    assert_eq!(
        answer.trim(),
        FRA_V4.to_string(),
        "the origin answers the header's source"
    );
    let local = local_port(&client);
    drop(client);

    let seen = origin.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].proxy_source().map(|a| a.ip()),
        Some(IpAddr::from(FRA_V4)),
        "{seen:?}"
    );
    // lax's default range is routed to lax's uplink only: the packets left through lax. (fra's
    // uplink counters are not compared: neighbour discovery moves a few hundred bytes on any
    // link, as much as this short exchange.)
    assert!(
        in_prefix(seen[0].tcp_peer.ip(), default_v4("lax")),
        "the TCP peer is lax's default range: {seen:?}"
    );
    assert!(fleet.uplink(LAX).since(lax_before).tx > 0);
    let record = fleet.wait_record(LAX, "the on-net connection", |r| r["src_port"] == local);
    assert_eq!(record["egress_location"], "lax", "{record}");
    assert_eq!(record["egress_ip_location"], "fra", "{record}");
    assert_eq!(record["policy_name"], "pinned to fra", "{record}");
}
