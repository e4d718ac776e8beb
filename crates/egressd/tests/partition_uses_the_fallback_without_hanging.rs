//! Cut the backbone between lax and fra while both nodes keep running: lax stops reaching fra,
//! new connections pinned to fra's IPv4 take the fallback within seconds, no client waits
//! without an answer, and healing the link brings traffic back to fra.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::fleet::*;
use common::*;

const LAX: usize = 0;

/// Retries through lax until whoami on `port` sees `want`; every attempt must be answered
/// (success or error) within the client's I/O deadline: a hung connection fails the test.
fn until_seen(fleet: &Fleet, port: u16, limit: Duration, want: IpAddr) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let mut client = fleet.client(LAX, FLEET_HTTP_PORT);
        let answer = http_get(&mut client, origin_v4(port), "/", None);
        let local = local_port(&client);
        drop(client);
        let record = fleet.wait_record(LAX, "the connection", |r| r["src_port"] == local);
        if answer.status == 200 && answer.seen_ip() == want {
            eprintln!("port {port}: {want} after {:?}", started.elapsed());
            return record;
        }
        assert!(
            started.elapsed() < limit,
            "port {port}: still {} ({}) after {limit:?}: {record}",
            answer.text(),
            answer.status
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn partition_uses_the_fallback_without_hanging() {
    let fleet = Fleet::start("partition_uses_the_fallback_without_hanging", &[]);
    let fra: IpAddr = FRA_V4.into();
    until_seen(&fleet, PINNED_FRA_PORT, Duration::from_secs(1), fra);

    fleet.net.partition("lax", "fra").expect("partition");
    let record = until_seen(
        &fleet,
        PINNED_FRA_PORT,
        Duration::from_secs(5),
        NYC_V4.into(),
    );
    assert_eq!(record["fallback"], "ipv4_fallback", "{record}");
    assert_eq!(record["egress_location"], "nyc", "{record}");
    // Every record lax wrote meanwhile ended: none is left open.
    let (seen, record) = {
        let mut client = fleet.client(LAX, FLEET_HTTP_PORT);
        let answer = http_get(&mut client, origin_v4(FRA_OR_DEFAULT_PORT), "/", None);
        let local = local_port(&client);
        drop(client);
        (
            answer.seen_ip(),
            fleet.wait_record(LAX, "the connection", |r| r["src_port"] == local),
        )
    };
    assert!(in_prefix(seen, default_v4("lax")), "{seen}: {record}");
    assert_eq!(record["fallback"], "default_range", "{record}");

    fleet.net.heal("lax", "fra").expect("heal");
    let record = until_seen(&fleet, PINNED_FRA_PORT, Duration::from_secs(10), fra);
    assert_eq!(record["fallback"], "none", "{record}");
}
