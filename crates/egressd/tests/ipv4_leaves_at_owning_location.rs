//! A user at lax whose policy pins fra's dedicated IPv4: the origin sees that IPv4 and the bytes
//! leave through fra's uplink (lax forwards over the backbone). Over IPv6 the origin sees an
//! address of the policy's /64, from lax's slice, and the bytes leave through lax's uplink.

mod common;

use std::net::{IpAddr, SocketAddr};

use common::fleet::*;
use common::*;
use egress_harness::{fetch_bulk, BulkOrigin, ORIGIN_V4, ORIGIN_V6};

const LAX: usize = 0;
const FRA: usize = 2;
const BULK: u64 = 16 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

#[test]
fn ipv4_leaves_at_owning_location() {
    let fleet = Fleet::start("ipv4_leaves_at_owning_location", &[]);
    let bulk_v4 = BulkOrigin::start(
        &fleet.net.internet,
        SocketAddr::new(ORIGIN_V4.into(), BULK_PORT),
    )
    .expect("bulk origin");
    let bulk_v6 = BulkOrigin::start(
        &fleet.net.internet,
        SocketAddr::new(ORIGIN_V6.into(), BULK_PORT),
    )
    .expect("bulk origin v6");

    // IPv4: the dedicated address of fra, and the log at lax names both locations.
    let mut client = fleet.client(LAX, FLEET_HTTP_PORT);
    tunnel(&mut client, origin_v4(PINNED_FRA_PORT), None);
    let (_, answer) = ask_whoami(&mut client, "/", true);
    assert_eq!(answer.seen_ip(), IpAddr::from(FRA_V4));
    let port = local_port(&client);
    drop(client);
    let record = fleet.wait_record(LAX, "the forwarded connection", |r| r["src_port"] == port);
    assert_eq!(record["ingress_location"], "lax", "{record}");
    assert_eq!(record["egress_location"], "fra", "{record}");
    assert_eq!(record["egress_ip_location"], "fra", "{record}");
    assert_eq!(record["egress_ip"], FRA_V4.to_string(), "{record}");
    assert_eq!(record["policy_name"], "pinned to fra", "{record}");
    assert_eq!(record["fallback"], "none", "{record}");
    assert_eq!(record["close_reason"], "closed", "{record}");

    // Bulk over IPv4: fra's uplink carries it, lax's does not.
    let (lax_before, fra_before) = (fleet.uplink(LAX), fleet.uplink(FRA));
    let mut client = fleet.client(LAX, FLEET_HTTP_PORT);
    tunnel(
        &mut client,
        SocketAddr::new(ORIGIN_V4.into(), BULK_PORT),
        None,
    );
    assert_eq!(
        fetch_bulk(&mut client, BULK).expect("bulk through fra"),
        BULK
    );
    drop(client);
    let lax_rx = fleet.uplink(LAX).since(lax_before).rx;
    let fra_rx = fleet.uplink(FRA).since(fra_before).rx;
    assert!(fra_rx >= BULK, "fra's uplink received {fra_rx} bytes");
    assert!(lax_rx < 2 * MIB, "lax's uplink received {lax_rx} bytes");
    assert!(
        bulk_v4
            .seen()
            .iter()
            .all(|peer| peer.ip() == IpAddr::from(FRA_V4)),
        "{:?}",
        bulk_v4.seen()
    );

    // IPv6: an address of fra's /64, inside lax's slice, and lax's uplink carries the bytes.
    let mut client = fleet.client(LAX, FLEET_HTTP_PORT);
    tunnel(&mut client, origin_v6(PINNED_FRA_PORT), None);
    let (_, answer) = ask_whoami(&mut client, "/", true);
    let seen = answer.seen_ip();
    assert!(in_prefix(seen, FRA_V6_NET), "{seen} outside {FRA_V6_NET}");
    assert!(
        in_prefix(seen, &slice(FRA_V6_NET, LAX)),
        "{seen} outside lax's slice"
    );
    drop(client);
    let (lax_before, fra_before) = (fleet.uplink(LAX), fleet.uplink(FRA));
    let mut client = fleet.client(LAX, FLEET_HTTP_PORT);
    tunnel(
        &mut client,
        SocketAddr::new(ORIGIN_V6.into(), BULK_PORT),
        None,
    );
    assert_eq!(fetch_bulk(&mut client, BULK).expect("bulk over IPv6"), BULK);
    drop(client);
    let lax_rx = fleet.uplink(LAX).since(lax_before).rx;
    let fra_rx = fleet.uplink(FRA).since(fra_before).rx;
    assert!(lax_rx >= BULK, "lax's uplink received {lax_rx} bytes");
    assert!(fra_rx < 2 * MIB, "fra's uplink received {fra_rx} bytes");
    assert!(!bulk_v6.seen().is_empty());
}
