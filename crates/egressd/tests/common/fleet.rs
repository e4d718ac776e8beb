//! A fleet across three locations for the end-to-end scenarios: one `egressd` node per location
//! namespace (lax, nyc, fra), peers over the harness's backbone in mutual TLS, clients attached
//! to any location, and byte counters of each location's uplink.
//!
//! The account holds dedicated IPs in nyc and fra only, and lax, nyc and fra sit on a line with
//! lax in the middle, so from lax the two dedicated locations are equally close.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use egress_harness::{Lab, LinkBytes, Topology, TopologySpec};
use serde_json::Value;

use super::{connect, read_records, run_to_end, start_whoami, Process, TempDir, EGRESSD, WAIT};

/// The locations, in topology order (gateway n gets 10.n.0.1 towards clients).
pub const LOCATIONS: [&str; 3] = ["lax", "nyc", "fra"];
/// The account's dedicated IPv4 in nyc.
pub const NYC_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 20);
/// The account's dedicated IPv4 in fra.
pub const FRA_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 30);
/// The /64 paired with [`NYC_V4`].
pub const NYC_V6_NET: &str = "2001:db8:e000:20::/64";
/// The /64 paired with [`FRA_V4`].
pub const FRA_V6_NET: &str = "2001:db8:e000:30::/64";
/// The fleet listener port of every node (on its backbone address).
pub const FLEET_PORT: u16 = 7443;
/// HTTP proxy port of every node (wildcard listener).
pub const FLEET_HTTP_PORT: u16 = 3128;
/// HTTP proxy port asking for credentials.
pub const FLEET_HTTP_AUTH_PORT: u16 = 3129;
/// SOCKS5 port of every node (wildcard listener; UDP ASSOCIATE on, the account has UDP on).
pub const FLEET_SOCKS_PORT: u16 = 1080;

/// Destination port pinned to fra's IPv4, falling back to nyc's.
pub const PINNED_FRA_PORT: u16 = 8081;
/// Destination port pinned to fra's IPv4, falling back to the default range (`0.0.0.0`).
pub const FRA_OR_DEFAULT_PORT: u16 = 8082;
/// Destination port no policy matches (DESIGN rule 2: the closest dedicated location).
pub const UNMATCHED_PORT: u16 = 8083;
/// Port of the bulk origin, pinned to fra's IPv4 like [`PINNED_FRA_PORT`].
pub const BULK_PORT: u16 = 9000;
/// A whoami port no policy of the configuration names; scenarios add policies for it.
pub const SPARE_PORT: u16 = 8084;
/// The on-net destination (PROXY v2 origin) in the internet namespace.
pub const ON_NET_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 90);
/// Port of the on-net origin.
pub const ON_NET_PORT: u16 = 9090;

/// Location `code`'s default IPv4 range.
pub fn default_v4(code: &str) -> &'static str {
    match code {
        "lax" => "192.0.2.0/28",
        "nyc" => "192.0.2.16/28",
        _ => "192.0.2.32/28",
    }
}

fn default_v6(index: usize) -> String {
    format!("2001:db8:d{index}::/64")
}

/// Location `index`'s /80 slice of a dedicated /64 ("2001:db8:e000:30::/64").
pub fn slice(net: &str, index: usize) -> String {
    let base = net.trim_end_matches("::/64");
    format!("{base}:{index}::/80")
}

/// The egress prefixes routed to location `index`.
fn egress_of(index: usize, code: &str) -> Vec<String> {
    let mut prefixes = vec![default_v4(code).to_owned(), default_v6(index)];
    match code {
        "nyc" => prefixes.push(format!("{NYC_V4}/32")),
        "fra" => prefixes.push(format!("{FRA_V4}/32")),
        _ => {}
    }
    prefixes.push(slice(NYC_V6_NET, index));
    prefixes.push(slice(FRA_V6_NET, index));
    prefixes
}

/// The fleet's configuration.
pub fn fleet_toml(users: &[(String, String)]) -> String {
    let mut out = String::from(
        r#"[[address_pools]]
name = "leased-v4"
prefix = "203.0.113.0/24"

[[address_pools]]
name = "leased-v6"
prefix = "2001:db8:e000::/48"

[[on_net]]
name = "edge"
prefixes = ["198.51.100.90/32"]
"#,
    );
    let coordinates = [("lax", 0.0, 0.0), ("nyc", 0.0, 20.0), ("fra", 0.0, -20.0)];
    for (index, (code, lat, lon)) in coordinates.iter().enumerate() {
        out.push_str(&format!(
            r#"
[[locations]]
code = "{code}"
city = "{code} city"
region = "ZZ-{up}"
country = "ZZ"
latitude = {lat:.1}
longitude = {lon:.1}
ipv6_slice = {index}
default_egress = {{ ipv4 = "{v4}", ipv6 = "{v6}" }}

[[nodes]]
id = "{code}-1"
location = "{code}"
fleet_address = "10.201.{n}.1:{FLEET_PORT}"
"#,
            up = code.to_uppercase(),
            v4 = default_v4(code),
            v6 = default_v6(index),
            n = index + 1,
        ));
    }
    let users = super::users_toml(users);
    out.push_str(&format!(
        r#"
[[accounts]]
id = "acme"
name = "Acme"
traffic = {{ udp = true }}
{users}
[[accounts.proxy_endpoints]]
name = "http"
protocol = "http"
listen = "0.0.0.0:{FLEET_HTTP_PORT}"
authorization = {{ source_prefixes = ["10.0.0.0/8"] }}

[[accounts.proxy_endpoints]]
name = "socks5"
protocol = "socks5"
listen = "0.0.0.0:{FLEET_SOCKS_PORT}"
authorization = {{ source_prefixes = ["10.0.0.0/8"] }}

[[accounts.proxy_endpoints]]
name = "http-credentials"
protocol = "http"
listen = "0.0.0.0:{FLEET_HTTP_AUTH_PORT}"
authorization = "credentials"

[[accounts.dedicated_ips]]
ipv4 = "{NYC_V4}"
ipv6 = "{NYC_V6_NET}"
location = "nyc"

[[accounts.dedicated_ips]]
ipv4 = "{FRA_V4}"
ipv6 = "{FRA_V6_NET}"
location = "fra"

[[accounts.policies]]
precedence = 10
name = "pinned to fra"
traffic = 'net.dst.port in {{{PINNED_FRA_PORT} {BULK_PORT} {ON_NET_PORT}}}'
method = {{ dedicated = {{ ipv4 = "{FRA_V4}", ipv4_fallback = "{NYC_V4}" }} }}

[[accounts.policies]]
precedence = 20
name = "fra or default"
traffic = 'net.dst.port == {FRA_OR_DEFAULT_PORT}'
method = {{ dedicated = {{ ipv4 = "{FRA_V4}", ipv4_fallback = "0.0.0.0" }} }}

[[accounts.policies]]
precedence = 1000
name = "everything else"
traffic = 'net.protocol in {{"tcp" "udp"}} and net.dst.port != {UNMATCHED_PORT}'
method = "default"
"#
    ));
    out
}

/// A running fleet.
pub struct Fleet {
    /// One node per location, in [`LOCATIONS`] order (`None` while stopped).
    pub nodes: Vec<Option<Process>>,
    pub whoami: Process,
    pub net: Topology,
    pub dir: TempDir,
    pub config: PathBuf,
    /// Where nodes get their configuration: `--config FILE` unless a scenario says otherwise.
    pub source_args: Vec<String>,
    lab: Lab,
}

impl Fleet {
    /// Builds the topology, the fleet's certificates and starts every node; returns once each
    /// node sees both peers answer.
    pub fn start(test: &str, users: &[(String, String)]) -> Fleet {
        let mut fleet = Fleet::build(test, users);
        fleet.start_nodes();
        fleet
    }

    /// Starts every node and returns once each sees both peers answer.
    pub fn start_nodes(&mut self) {
        for index in 0..LOCATIONS.len() {
            let node = self.spawn_node(index);
            self.nodes.push(Some(node));
        }
        for index in 0..LOCATIONS.len() {
            self.wait_peers_up(index, 2);
        }
    }

    /// The topology, certificates, configuration file and origins, without nodes.
    pub fn build(test: &str, users: &[(String, String)]) -> Fleet {
        let mut lab = Lab::new(test).expect("lab (run the end-to-end tests as root)");
        let mut spec = TopologySpec::new();
        for (index, code) in LOCATIONS.iter().enumerate() {
            let egress = egress_of(index, code);
            let egress: Vec<&str> = egress.iter().map(String::as_str).collect();
            spec = spec.gateway(code, &egress);
        }
        let net = lab.topology(&spec).expect("topology");
        net.internet
            .add_address("lo", &format!("{ON_NET_V4}/32"))
            .expect("on-net origin address");
        let dir = TempDir::new(test);
        let config = dir.path.join("egressd.toml");
        std::fs::write(&config, fleet_toml(users)).expect("write the configuration");
        let ca = dir.path.join("ca");
        let out = run_to_end(
            None,
            Command::new(EGRESSD)
                .args(["fleet", "ca", "init", "--dir"])
                .arg(&ca),
            WAIT,
        );
        assert!(out.status.success(), "fleet ca init: {out:?}");
        for code in LOCATIONS {
            let out = run_to_end(
                None,
                Command::new(EGRESSD)
                    .args(["fleet", "cert", "issue", "--ca-dir"])
                    .arg(&ca)
                    .args(["--node", &format!("{code}-1"), "--out"])
                    .arg(dir.path.join(code)),
                WAIT,
            );
            assert!(out.status.success(), "fleet cert issue: {out:?}");
        }
        let whoami = start_whoami(
            &net.internet,
            &[
                PINNED_FRA_PORT,
                FRA_OR_DEFAULT_PORT,
                UNMATCHED_PORT,
                8080,
                SPARE_PORT,
            ],
        );
        let source_args = vec!["--config".into(), config.display().to_string()];
        Fleet {
            nodes: Vec::new(),
            whoami,
            net,
            dir,
            config,
            source_args,
            lab,
        }
    }

    fn spawn_node(&self, index: usize) -> Process {
        let code = LOCATIONS[index];
        let mut args: Vec<String> = vec!["serve".into()];
        args.extend(self.source_args.iter().cloned());
        args.extend([
            "--node".into(),
            format!("{code}-1"),
            "--fleet-dir".into(),
            self.dir.path.join(code).display().to_string(),
            "--fleet-probe-interval-ms".into(),
            "300".into(),
            "--connect-timeout-secs".into(),
            "2".into(),
            "--log-file".into(),
            self.log(index).display().to_string(),
            "--data-dir".into(),
            self.dir
                .path
                .join(format!("data-{code}"))
                .display()
                .to_string(),
            "--admin-listen".into(),
            "127.0.0.1:9090".into(),
        ]);
        let mut node = Process::spawn(
            "egressd serve",
            &self.net.gateways[index].ns,
            Command::new(EGRESSD).args(&args),
        );
        node.wait_stderr("its proxy listeners", 2, |l| {
            l.contains("proxy listening on")
        });
        node
    }

    /// Waits until node `index`'s stderr says how many peers answer.
    pub fn wait_peers_up(&mut self, index: usize, peers: usize) {
        let node = self.nodes[index].as_mut().expect("node running");
        node.wait_stderr("its peers to answer", 1, |l| {
            l.contains("fleet health:") && l.contains(&format!("peers_up={peers}/"))
        });
    }

    /// Node `index`'s connection log.
    pub fn log(&self, index: usize) -> PathBuf {
        self.dir
            .path
            .join(format!("connections-{}.jsonl", LOCATIONS[index]))
    }

    /// Stops node `index` at once (SIGKILL), as a crashed or unplugged node.
    pub fn kill(&mut self, index: usize) {
        // Dropping the process kills and reaps it.
        drop(self.nodes[index].take());
    }

    /// Starts node `index` again.
    pub fn restart(&mut self, index: usize) {
        let node = self.spawn_node(index);
        self.nodes[index] = Some(node);
    }

    /// A client connection from the client namespace to location `index`'s proxy port.
    pub fn client(&self, index: usize, port: u16) -> TcpStream {
        connect(
            &self.net.client,
            SocketAddr::new(self.net.gateways[index].listen_v4.into(), port),
        )
    }

    /// Uplink byte counters of location `index`.
    pub fn uplink(&self, index: usize) -> LinkBytes {
        self.net.gateways[index]
            .uplink_bytes()
            .expect("uplink counters")
    }

    /// Backbone link byte counters of location `index`.
    pub fn backbone(&self, index: usize) -> LinkBytes {
        self.net.gateways[index]
            .backbone_bytes()
            .expect("backbone counters")
    }

    /// Waits for a record in node `index`'s log.
    #[track_caller]
    pub fn wait_record(&self, index: usize, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(r) = read_records(&self.log(index)).into_iter().find(|r| pred(r)) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "no log record of {what} at {}",
                LOCATIONS[index]
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
