//! Stop every node of fra: new connections pinned to fra's IPv4 use the policy's fallback (nyc's
//! IPv4, from nyc) or, with `0.0.0.0`, the default range of the closest healthy location; the
//! log says which. Restart fra and traffic returns to the primary.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::fleet::*;
use common::*;

const LAX: usize = 0;
const FRA: usize = 2;
/// DESIGN and the issue: new connections use the fallback within 5 s of the loss.
const FAILOVER: Duration = Duration::from_secs(5);

/// Asks whoami on `port` through lax; returns what it saw and lax's log record.
fn through_lax(fleet: &Fleet, port: u16) -> (IpAddr, serde_json::Value) {
    let mut client = fleet.client(LAX, FLEET_HTTP_PORT);
    let answer = http_get(&mut client, origin_v4(port), "/", None);
    let local = local_port(&client);
    drop(client);
    let record = fleet.wait_record(LAX, "the connection", |r| r["src_port"] == local);
    (answer.seen_ip(), record)
}

/// Retries until whoami on `port` sees `want`, for at most `limit`.
fn until_seen(
    fleet: &Fleet,
    port: u16,
    limit: Duration,
    want: impl Fn(IpAddr) -> bool,
) -> serde_json::Value {
    let started = Instant::now();
    let deadline = started + limit;
    loop {
        let mut client = fleet.client(LAX, FLEET_HTTP_PORT);
        let answer = http_get(&mut client, origin_v4(port), "/", None);
        let local = local_port(&client);
        drop(client);
        if answer.status == 200 && want(answer.seen_ip()) {
            eprintln!("port {port}: switched after {:?}", started.elapsed());
            return fleet.wait_record(LAX, "the connection", |r| r["src_port"] == local);
        }
        assert!(
            Instant::now() < deadline,
            "whoami on port {port} still saw {} ({}) after {limit:?}",
            answer.text(),
            answer.status
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn failover_follows_location_health() {
    let mut fleet = Fleet::start("failover_follows_location_health", &[]);
    let (seen, record) = through_lax(&fleet, PINNED_FRA_PORT);
    assert_eq!(seen, IpAddr::from(FRA_V4), "{record}");

    fleet.kill(FRA);
    let record = until_seen(&fleet, PINNED_FRA_PORT, FAILOVER, |ip| {
        ip == IpAddr::from(NYC_V4)
    });
    assert_eq!(record["fallback"], "ipv4_fallback", "{record}");
    assert_eq!(record["egress_location"], "nyc", "{record}");
    assert_eq!(record["egress_ip_location"], "nyc", "{record}");
    assert_eq!(record["ingress_location"], "lax", "{record}");

    // `0.0.0.0`: the default range at the closest healthy location (lax itself).
    let (seen, record) = through_lax(&fleet, FRA_OR_DEFAULT_PORT);
    assert!(in_prefix(seen, default_v4("lax")), "{seen}: {record}");
    assert_eq!(record["fallback"], "default_range", "{record}");
    assert_eq!(record["egress_location"], "lax", "{record}");

    fleet.restart(FRA);
    let record = until_seen(&fleet, PINNED_FRA_PORT, Duration::from_secs(10), |ip| {
        ip == IpAddr::from(FRA_V4)
    });
    assert_eq!(record["fallback"], "none", "{record}");
    assert_eq!(record["egress_location"], "fra", "{record}");
    let (seen, _) = through_lax(&fleet, FRA_OR_DEFAULT_PORT);
    assert_eq!(seen, IpAddr::from(FRA_V4));
}
