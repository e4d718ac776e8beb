//! A SOCKS5 UDP client at lax whose policy pins fra's dedicated IPv4: its datagrams cross the
//! backbone to fra (one `connect-udp` stream per flow), leave from that IPv4 through fra's
//! uplink, and the origin's replies come back to the client named by the destination. The flow
//! is logged once, at lax, with both locations and the datagram counts; a flow of the same
//! association to a default-range port leaves from lax itself.

mod common;

use std::net::IpAddr;

use common::fleet::*;
use common::socks_udp::*;
use common::*;
use egress_harness::UdpOrigin;
use serde_json::Value;

const LAX: usize = 0;
const FRA: usize = 2;
/// A port the catch-all policy sends to the default range.
const DEFAULT_PORT: u16 = 8080;
/// A datagram large enough to stand out from the links' background chatter (probes,
/// neighbour discovery).
const LARGE: usize = 30_000;

#[test]
fn udp_ipv4_leaves_at_owning_location() {
    let fleet = Fleet::start("udp_ipv4_leaves_at_owning_location", &[]);
    let internet = &fleet.net.internet;
    let pinned = UdpOrigin::start(internet, origin_v4(PINNED_FRA_PORT)).expect("origin");
    let _default = UdpOrigin::start(internet, origin_v4(DEFAULT_PORT)).expect("origin");

    let mut control = fleet.client(LAX, FLEET_SOCKS_PORT);
    let relay = socks5_udp_associate(&mut control).expect("UDP ASSOCIATE accepted");
    let socket = udp_socket(&fleet.net.client);

    // The origin sees fra's dedicated IPv4; a second datagram stays in the same flow.
    let seen = udp_whoami(&socket, relay, origin_v4(PINNED_FRA_PORT));
    assert_eq!(seen.ip(), IpAddr::from(FRA_V4));
    assert_eq!(udp_whoami(&socket, relay, origin_v4(PINNED_FRA_PORT)), seen);

    // A large datagram: lax sends it over the backbone, fra's uplink carries it out.
    let (lax_backbone, lax_uplink, fra_uplink) =
        (fleet.backbone(LAX), fleet.uplink(LAX), fleet.uplink(FRA));
    socket
        .send_to(
            &udp_datagram(0, origin_v4(PINNED_FRA_PORT), &[0x42; LARGE]),
            relay,
        )
        .expect("send a large datagram");
    let (from, answer) = recv_udp_reply(&socket, relay);
    assert_eq!(from, origin_v4(PINNED_FRA_PORT));
    assert_eq!(answer, seen.to_string().into_bytes());
    let lax_backbone_tx = fleet.backbone(LAX).since(lax_backbone).tx;
    let lax_uplink_tx = fleet.uplink(LAX).since(lax_uplink).tx;
    let fra_uplink_tx = fleet.uplink(FRA).since(fra_uplink).tx;
    assert!(
        lax_backbone_tx >= LARGE as u64,
        "lax's backbone sent {lax_backbone_tx} bytes"
    );
    assert!(
        fra_uplink_tx >= LARGE as u64,
        "fra's uplink sent {fra_uplink_tx} bytes"
    );
    assert!(
        lax_uplink_tx < LARGE as u64,
        "lax's uplink sent {lax_uplink_tx} bytes"
    );
    assert_eq!(pinned.seen(), vec![seen; 3]);

    // Another destination of the same association leaves from lax's default range.
    let default_seen = udp_whoami(&socket, relay, origin_v4(DEFAULT_PORT));
    assert!(
        in_prefix(default_seen.ip(), default_v4("lax")),
        "{default_seen} is not lax's default range"
    );

    // Closing the control connection ends the association: one record per flow, at lax.
    let client_port = local_port(&control);
    drop(control);
    let flow_to = |port: u16| {
        fleet.wait_record(LAX, &format!("the UDP flow to port {port}"), |r: &Value| {
            r["transport"] == "udp" && r["src_port"] == client_port && r["dst_port"] == port
        })
    };
    let forwarded = flow_to(PINNED_FRA_PORT);
    assert_eq!(forwarded["onramp"], "socks5", "{forwarded}");
    assert_eq!(forwarded["policy_name"], "pinned to fra", "{forwarded}");
    assert_eq!(forwarded["egress_method"], "dedicated", "{forwarded}");
    assert_eq!(forwarded["egress_ip"], FRA_V4.to_string(), "{forwarded}");
    assert_eq!(forwarded["egress_port"], seen.port(), "{forwarded}");
    assert_eq!(forwarded["ingress_location"], "lax", "{forwarded}");
    assert_eq!(forwarded["egress_location"], "fra", "{forwarded}");
    assert_eq!(forwarded["egress_ip_location"], "fra", "{forwarded}");
    assert_eq!(forwarded["fallback"], "none", "{forwarded}");
    assert_eq!(forwarded["close_reason"], "closed", "{forwarded}");
    assert_eq!(forwarded["datagrams_client_to_upstream"], 3, "{forwarded}");
    assert_eq!(forwarded["datagrams_upstream_to_client"], 3, "{forwarded}");
    let request = b"who am i".len() as u64;
    assert_eq!(
        forwarded["bytes_client_to_upstream"],
        2 * request + LARGE as u64,
        "{forwarded}"
    );
    assert_eq!(
        forwarded["bytes_upstream_to_client"],
        3 * seen.to_string().len() as u64,
        "{forwarded}"
    );
    let records = read_records(&fleet.log(LAX));
    let of_flow = records
        .iter()
        .filter(|r| r["session_id"] == forwarded["session_id"])
        .count();
    assert_eq!(of_flow, 1, "the forwarded flow is logged once");

    let local = flow_to(DEFAULT_PORT);
    assert_eq!(local["egress_location"], "lax", "{local}");
    assert_eq!(local["egress_method"], "default", "{local}");
    assert_eq!(local["egress_ip"], default_seen.ip().to_string(), "{local}");
    assert_eq!(local["close_reason"], "closed", "{local}");
}
