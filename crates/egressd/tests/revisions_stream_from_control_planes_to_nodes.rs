//! Two control-plane replicas share one PostgreSQL; three nodes (lax, nyc, fra) hold no store
//! of record and follow them. A policy written on replica 1 is served by every node; with
//! replica 1 killed, a write on replica 2 reaches every node; with PostgreSQL stopped the nodes
//! keep serving, and a node restarted with no control plane at all starts from its disk.
//! The propagation time of each write to each node is printed (the goal: p99 < 1 s).

mod common;

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use common::admin::Admin;
use common::fleet::*;
use common::*;
use egress_harness::pg_cluster::PgCluster;
use egress_harness::ORIGIN_V4;
use serde_json::{json, Value};

const LAX: usize = 0;
const FRA: usize = 2;
/// Writes whose propagation is timed.
const PROBES: usize = 20;

fn replica_addr(n: u16) -> SocketAddr {
    SocketAddr::new(ORIGIN_V4.into(), 9090 + n)
}

/// `egressd --store URL ARGS…` on the host; its standard output.
fn with_store(url: &str, args: &[&str]) -> String {
    let out = run_to_end(
        None,
        Command::new(EGRESSD).arg("--store").arg(url).args(args),
        WAIT,
    );
    assert!(out.status.success(), "egressd {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn start_replica(fleet: &Fleet, url: &str, n: u16) -> Process {
    let mut replica = Process::spawn(
        "control-plane replica",
        &fleet.net.internet,
        Command::new(EGRESSD).arg("--store").arg(url).args([
            "serve",
            "--api-only",
            "--admin-listen",
            &replica_addr(n).to_string(),
            "--log-file",
            &fleet
                .dir
                .path
                .join(format!("replica-{n}.jsonl"))
                .display()
                .to_string(),
        ]),
    );
    replica.wait_stderr("its admin API", 1, |l| l.contains("admin API listening on"));
    replica
}

/// Adds a policy through `admin`; returns the revision it made.
fn add_policy(admin: &Admin, body: &Value) -> u64 {
    admin
        .call("POST", "/v1/accounts/acme/policies", Some(body), &[])
        .expect(201)
        .etag()
        .expect("the write's revision")
}

/// Waits until every node says it runs `revision`; how long each took.
fn wait_all(fleet: &mut Fleet, revision: u64, since: Instant) -> Vec<Duration> {
    let line = format!("now running control-plane revision {revision}");
    (0..LOCATIONS.len())
        .map(|index| {
            let node = fleet.nodes[index].as_mut().expect("node running");
            node.wait_stderr(&line, 1, |l| l.contains(&line));
            since.elapsed()
        })
        .collect()
}

/// Through node `index` to whoami on the spare port: the address the origin saw.
fn seen_through(fleet: &Fleet, index: usize) -> IpAddr {
    let mut client = fleet.client(index, FLEET_HTTP_PORT);
    let answer = http_get(&mut client, origin_v4(SPARE_PORT), "/", None);
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.seen_ip()
}

/// Waits until the control plane's fleet view marks exactly `down` as down.
fn fleet_view_becomes(api: &Admin, down: &[&str]) {
    let started = Instant::now();
    loop {
        let view = api.call("GET", "/v1/fleet/health", None, &[]).expect(200);
        if view.json["locations_down"] == json!(down) {
            eprintln!("fleet view {down:?} after {:?}", started.elapsed());
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "fleet view: {}",
            view.text
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[test]
fn revisions_stream_from_control_planes_to_nodes() {
    let cluster = PgCluster::start();
    let url = cluster.create_database("stream");
    let mut fleet = Fleet::build("revisions_stream_from_control_planes_to_nodes", &[]);
    with_store(
        &url,
        &["config", "import", &fleet.config.display().to_string()],
    );
    let node_token = with_store(&url, &["token", "create", "--name", "nodes"]);
    let writer = with_store(&url, &["token", "create", "--name", "test", "--write"]);
    let (node_token, writer) = (node_token.trim().to_owned(), writer.trim().to_owned());
    let mut replica_1 = Some(start_replica(&fleet, &url, 1));
    let mut replica_2 = Some(start_replica(&fleet, &url, 2));
    fleet.source_args = vec![
        "--control-plane".into(),
        format!("http://{}", replica_addr(1)),
        "--control-plane".into(),
        format!("http://{}", replica_addr(2)),
        "--control-plane-token".into(),
        node_token,
    ];
    fleet.start_nodes();
    let api_1 = Admin::at(&fleet.net.internet, replica_addr(1), &writer);
    let api_2 = Admin::at(&fleet.net.internet, replica_addr(2), &writer);

    // A policy written on replica 1 is served by every node (nyc's IPv4, forwarded from lax and
    // fra over the fleet).
    let started = Instant::now();
    let revision = add_policy(
        &api_1,
        &json!({"precedence": 5, "name": "spare via nyc", "traffic": format!("net.dst.port == {SPARE_PORT}"),
                "method": {"dedicated": {"ipv4": NYC_V4.to_string(), "ipv4_fallback": FRA_V4.to_string()}}}),
    );
    let mut took = wait_all(&mut fleet, revision, started);
    for index in 0..LOCATIONS.len() {
        assert_eq!(
            seen_through(&fleet, index),
            IpAddr::from(NYC_V4),
            "node {index}"
        );
    }
    let reports = api_1.call("GET", "/v1/fleet/nodes", None, &[]).expect(200);
    let nodes = reports.json.as_array().expect("reports").len();
    assert_eq!(nodes, LOCATIONS.len(), "{}", reports.text);

    // The fleet's health view, shared through the control plane: fra stops, every node that
    // reports finds it down; fra returns and the view clears.
    fleet_view_becomes(&api_1, &[]);
    fleet.kill(FRA);
    fleet_view_becomes(&api_1, &["fra"]);
    fleet.restart(FRA);
    fleet.wait_peers_up(FRA, 2);
    fleet_view_becomes(&api_1, &[]);

    // Propagation of more writes, timed per node.
    for i in 0..PROBES {
        let started = Instant::now();
        let revision = add_policy(
            &api_1,
            &json!({"precedence": 100 + i, "name": format!("probe {i}"),
                    "traffic": "net.dst.port == 1", "method": "default"}),
        );
        took.extend(wait_all(&mut fleet, revision, started));
    }
    took.sort();
    eprintln!(
        "propagation over {} node updates: p50 {:?}, p99 {:?}, max {:?}",
        took.len(),
        percentile(&took, 0.5),
        percentile(&took, 0.99),
        took[took.len() - 1]
    );

    // Replica 1 is killed: a write on replica 2 reaches every node.
    drop(replica_1.take());
    let started = Instant::now();
    let revision = add_policy(
        &api_2,
        &json!({"precedence": 4, "name": "spare via fra", "traffic": format!("net.dst.port == {SPARE_PORT}"),
                "method": {"dedicated": {"ipv4": FRA_V4.to_string(), "ipv4_fallback": NYC_V4.to_string()}}}),
    );
    let after_failover = wait_all(&mut fleet, revision, started);
    eprintln!("after replica 1 died: {after_failover:?}");
    assert_eq!(seen_through(&fleet, LAX), IpAddr::from(FRA_V4));

    // PostgreSQL stops, then replica 2 too: the nodes keep serving the last revision, and a
    // node restarted with no control plane at all starts from its disk.
    drop(cluster);
    assert_eq!(seen_through(&fleet, LAX), IpAddr::from(FRA_V4));
    drop(replica_2.take());
    fleet.kill(LAX);
    fleet.restart(LAX);
    let node = fleet.nodes[LAX].as_mut().expect("restarted");
    let line = format!("(revision {revision})");
    node.wait_stderr("the cached revision", 1, |l| l.contains(&line));
    fleet.wait_peers_up(LAX, 2);
    assert_eq!(seen_through(&fleet, LAX), IpAddr::from(FRA_V4));
}
