//! Forwarded vs local egress: 1 GiB through one tunnel whose dedicated IPv4 lives in another
//! location (lax → fra over the fleet's HTTP/2 + TLS link) beside the same through a dedicated
//! IPv4 of the ingress location, and beside a direct connection, in one run.
//!
//! Needs root (network namespaces) and a release build of egressd:
//! `cargo build --release -p egressd && cargo run --release -p egress-bench --bin fleet-forward`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use egress_harness::{BulkOrigin, Lab, Netns, TopologySpec, ORIGIN_V4};

const GIB: u64 = 1 << 30;
const RUNS: usize = 3;
const FORWARDED_PORT: u16 = 9001;
const LOCAL_PORT: u16 = 9002;

fn main() {
    let egressd = std::env::var("EGRESSD")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/egressd")
        });
    assert!(
        egressd.exists(),
        "{} missing: cargo build --release -p egressd (or set EGRESSD)",
        egressd.display()
    );
    let mut lab = Lab::new("fleet-forward").expect("lab (run as root)");
    let spec = TopologySpec::new()
        .gateway("lax", &["203.0.113.10/32", "192.0.2.0/28"])
        .gateway("fra", &["203.0.113.30/32", "192.0.2.32/28"]);
    let net = lab.topology(&spec).expect("topology");
    let dir = tempdir();
    std::fs::write(dir.join("egressd.toml"), CONFIG).expect("config");
    run(
        &egressd,
        &["fleet", "ca", "init", "--dir", &path(&dir.join("ca"))],
    );
    for node in ["lax-1", "fra-1"] {
        let out = path(&dir.join(node));
        run(
            &egressd,
            &[
                "fleet",
                "cert",
                "issue",
                "--ca-dir",
                &path(&dir.join("ca")),
                "--node",
                node,
                "--out",
                &out,
            ],
        );
    }
    let _forwarded_origin = BulkOrigin::start(
        &net.internet,
        SocketAddr::new(ORIGIN_V4.into(), FORWARDED_PORT),
    )
    .expect("origin");
    let _local_origin =
        BulkOrigin::start(&net.internet, SocketAddr::new(ORIGIN_V4.into(), LOCAL_PORT))
            .expect("origin");
    let nodes: Vec<Node> = [("lax-1", 0), ("fra-1", 1)]
        .iter()
        .map(|(id, i)| Node::start(&egressd, &net.gateways[*i].ns, &dir, id))
        .collect();
    std::thread::sleep(Duration::from_secs(2)); // probes mark the peer up

    let proxy = SocketAddr::new(net.gateways[0].listen_v4.into(), 3128);
    let mut rows = Vec::new();
    for (name, port) in [
        ("forwarded lax→fra", FORWARDED_PORT),
        ("local egress at lax", LOCAL_PORT),
    ] {
        let mut rates = Vec::new();
        let cpu_before = cpu_seconds(&nodes);
        for _ in 0..RUNS {
            let mut stream = net.client.connect_tcp(None, proxy).expect("proxy");
            connect_through(&mut stream, SocketAddr::new(ORIGIN_V4.into(), port));
            rates.push(fetch(&mut stream));
        }
        let cpu = (cpu_seconds(&nodes) - cpu_before) / RUNS as f64;
        rows.push((name, median(rates), Some(cpu)));
    }
    let mut direct = Vec::new();
    for _ in 0..RUNS {
        let mut stream = net.gateways[0]
            .ns
            .connect_tcp(None, SocketAddr::new(ORIGIN_V4.into(), LOCAL_PORT))
            .expect("direct");
        direct.push(fetch(&mut stream));
    }
    rows.push(("direct from lax", median(direct), None));
    let local = rows[1].1;
    println!("| path | Gbit/s (median of {RUNS}, 1 GiB each) | vs local egress | egressd CPU s/GiB (both nodes) |");
    println!("|---|---|---|---|");
    for (name, rate, cpu) in &rows {
        let cpu = cpu.map_or("—".to_owned(), |c| format!("{c:.2}"));
        println!("| {name} | {rate:.2} | {:.2}× | {cpu} |", rate / local);
    }
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}

/// User plus system CPU seconds the nodes used so far (`/proc/PID/stat`, 100 ticks a second).
fn cpu_seconds(nodes: &[Node]) -> f64 {
    nodes
        .iter()
        .map(|node| {
            let stat =
                std::fs::read_to_string(format!("/proc/{}/stat", node.0.id())).unwrap_or_default();
            // Fields after the command name (which may hold spaces) start at ") ".
            let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| {
                fields
                    .get(i)
                    .and_then(|f| f.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            (ticks(11) + ticks(12)) / 100.0
        })
        .sum()
}

/// One node of the fleet, killed on drop.
struct Node(Child);

impl Node {
    fn start(egressd: &Path, ns: &Netns, dir: &Path, id: &str) -> Node {
        let mut cmd = Command::new(egressd);
        cmd.args([
            "serve",
            "--config",
            &path(&dir.join("egressd.toml")),
            "--node",
            id,
        ])
        .args(["--fleet-dir", &path(&dir.join(id)), "--no-admin"])
        .args(["--data-dir", &path(&dir.join(format!("data-{id}")))])
        .args(["--log-file", &path(&dir.join(format!("{id}.jsonl")))])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = ns.spawn(&mut cmd).expect("start egressd");
        std::thread::sleep(Duration::from_millis(500));
        Node(child)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn connect_through(stream: &mut TcpStream, target: SocketAddr) {
    write!(
        stream,
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"
    )
    .expect("CONNECT");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("CONNECT answer");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
}

/// Asks the bulk origin for 1 GiB and reads it; Gbit/s.
fn fetch(stream: &mut TcpStream) -> f64 {
    writeln!(stream, "{GIB}").expect("ask");
    let started = Instant::now();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    assert_eq!(total, GIB, "short transfer");
    total as f64 * 8.0 / started.elapsed().as_secs_f64() / 1e9
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn run(egressd: &Path, args: &[&str]) {
    let status = Command::new(egressd)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("run");
    assert!(status.success(), "egressd {args:?}");
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("egressd-fleet-forward-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

const CONFIG: &str = r#"
[[address_pools]]
name = "leased"
prefix = "203.0.113.0/24"

[[address_pools]]
name = "leased-v6"
prefix = "2001:db8:e000::/48"

[[locations]]
code = "lax"
city = "Los Angeles"
region = "US-CA"
country = "US"
latitude = 34.05
longitude = -118.24
ipv6_slice = 0
default_egress = { ipv4 = "192.0.2.0/28" }

[[locations]]
code = "fra"
city = "Frankfurt"
region = "DE-HE"
country = "DE"
latitude = 50.11
longitude = 8.68
ipv6_slice = 1
default_egress = { ipv4 = "192.0.2.32/28" }

[[nodes]]
id = "lax-1"
location = "lax"
fleet_address = "10.201.1.1:7443"

[[nodes]]
id = "fra-1"
location = "fra"
fleet_address = "10.201.2.1:7443"

[[accounts]]
id = "bench"
name = "Bench"

[[accounts.proxy_endpoints]]
name = "http"
protocol = "http"
listen = "0.0.0.0:3128"
authorization = { source_prefixes = ["10.0.0.0/8"] }

[[accounts.dedicated_ips]]
ipv4 = "203.0.113.10"
ipv6 = "2001:db8:e000:10::/64"
location = "lax"

[[accounts.dedicated_ips]]
ipv4 = "203.0.113.30"
ipv6 = "2001:db8:e000:30::/64"
location = "fra"

[[accounts.policies]]
precedence = 10
name = "forwarded"
traffic = 'net.dst.port == 9001'
method = { dedicated = { ipv4 = "203.0.113.30", ipv4_fallback = "203.0.113.10" } }

[[accounts.policies]]
precedence = 20
name = "local"
traffic = 'net.dst.port == 9002'
method = { dedicated = { ipv4 = "203.0.113.10", ipv4_fallback = "203.0.113.30" } }
"#;
