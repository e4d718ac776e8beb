//! What the end-to-end scenarios share: a lab with a whoami origin in the internet and the real
//! `egressd` binary in the gateway namespace, a configuration written for it, HTTP-proxy and
//! SOCKS5 clients that run in the client namespace, and the connection log read back.
//!
//! Every read, connect and wait has a deadline, so a broken gateway fails a test instead of
//! hanging it.

// Each scenario is its own crate and uses only part of this module.
#![allow(dead_code)]

pub mod admin;
pub mod fleet;
pub mod masque;
pub mod socks_udp;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use egress_harness::{read_resuming, Lab, Netns, Topology, ORIGIN_V4, ORIGIN_V6};
use serde_json::Value;

/// The egressd binary under test.
pub const EGRESSD: &str = env!("CARGO_BIN_EXE_egressd");

/// The account's dedicated IPv4 (what a policy-matched destination must see).
pub const DEDICATED_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// The IPv6 /64 paired with [`DEDICATED_V4`].
pub const DEDICATED_V6_NET: &str = "2001:db8:e000:10::/64";
/// The location's shared default range, IPv4 (kept clear of the origin's 198.51.100.80).
pub const DEFAULT_V4_NET: &str = "192.0.2.0/28";
/// The location's shared default range, IPv6.
pub const DEFAULT_V6_NET: &str = "2001:db8:d0::/64";
/// Every egress prefix: AnyIP-local in the gateway, routed back to it by the internet.
pub const EGRESS_PREFIXES: [&str; 4] = [
    "203.0.113.10/32",
    DEDICATED_V6_NET,
    DEFAULT_V4_NET,
    DEFAULT_V6_NET,
];

/// The gateway's address facing the client (`listen_v4` of the first gateway).
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
/// HTTP proxy authorising by source prefix (the client's link).
pub const HTTP_PORT: u16 = 3128;
/// SOCKS5 proxy authorising by source prefix.
pub const SOCKS_PORT: u16 = 1080;
/// HTTP proxy asking for a user's credentials.
pub const HTTP_AUTH_PORT: u16 = 3129;
/// SOCKS5 proxy asking for a user's credentials.
pub const SOCKS_AUTH_PORT: u16 = 1081;
/// MASQUE (HTTP/3 CONNECT-UDP, on UDP) authorising by source prefix, when a scenario asks.
pub const MASQUE_PORT: u16 = 4433;
/// MASQUE asking for a user's credentials; on the HTTP proxy's port, which is TCP.
pub const MASQUE_AUTH_PORT: u16 = HTTP_AUTH_PORT;
/// The name the gateway's MASQUE certificate is issued for.
pub const MASQUE_NAME: &str = "masque.gateway.lab";
/// Listeners the gateway opens (without MASQUE).
const LISTENERS: usize = 4;

/// The whoami port the policy sends from the dedicated IP (unless a scenario says otherwise).
pub const DEDICATED_PORT: u16 = 8081;
/// A whoami port no policy but the catch-all matches.
pub const DEFAULT_PORT: u16 = 8080;

/// Deadline for every socket read, write and connect of a test client.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Deadline for a process to come up or a log record to appear.
pub const WAIT: Duration = Duration::from_secs(10);

/// An origin address and port in the internet namespace.
pub fn origin_v4(port: u16) -> SocketAddr {
    SocketAddr::new(ORIGIN_V4.into(), port)
}

/// The IPv6 origin address and port.
pub fn origin_v6(port: u16) -> SocketAddr {
    SocketAddr::new(ORIGIN_V6.into(), port)
}

/// Whether `ip` lies inside `net` (`"2001:db8:e000:10::/64"`).
pub fn in_prefix(ip: IpAddr, net: &str) -> bool {
    let (addr, len) = net.split_once('/').expect("prefix has a length");
    let len: u32 = len.parse().expect("prefix length");
    match (ip, addr.parse::<IpAddr>().expect("prefix address")) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration and scenario

/// What a scenario changes in the common configuration.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Destination ports the policy sends from the dedicated IP.
    pub dedicated_ports: Vec<u16>,
    /// Ports whoami listens on (IPv4 and IPv6 origin).
    pub origin_ports: Vec<u16>,
    /// `[deployment] max_connections_per_destination` (the default when `None`).
    pub max_connections_per_destination: Option<u32>,
    /// Users (name, argon2 PHC hash) who may use the credentials listeners.
    pub users: Vec<(String, String)>,
    /// `[deployment] allow_destinations`.
    pub allow_destinations: Vec<String>,
    /// Extra `egressd serve` arguments.
    pub serve_args: Vec<String>,
    /// Sysctls of the gateway namespace, set before the gateway starts.
    pub gateway_sysctls: Vec<(String, String)>,
    /// The account's `traffic.udp` (off by default, as in the configuration model).
    pub udp: bool,
    /// Two MASQUE endpoints ([`MASQUE_PORT`], [`MASQUE_AUTH_PORT`]) with a fresh certificate.
    pub masque: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            dedicated_ports: vec![DEDICATED_PORT],
            origin_ports: vec![DEDICATED_PORT, DEFAULT_PORT],
            max_connections_per_destination: None,
            users: Vec::new(),
            allow_destinations: Vec::new(),
            serve_args: Vec::new(),
            gateway_sysctls: Vec::new(),
            udp: false,
            masque: false,
        }
    }
}

/// `[[accounts.users]]` tables for (name, argon2 PHC hash) pairs.
pub fn users_toml(users: &[(String, String)]) -> String {
    users
        .iter()
        .map(|(name, hash)| {
            format!("\n[[accounts.users]]\nname = {name:?}\npassword_hash = {hash:?}\n")
        })
        .collect()
}

/// The configuration: one single-location deployment, one account with a dedicated IP, four
/// listeners (HTTP and SOCKS5, each by source prefix and by credentials), a policy sending the
/// dedicated ports out of the dedicated IP and a catch-all to the default range.
pub fn config_toml(setup: &Setup) -> String {
    config_toml_with(setup, None)
}

/// [`config_toml`], with two MASQUE endpoints presenting the certificate and key at these
/// paths when given.
pub fn config_toml_with(setup: &Setup, masque_tls: Option<(&Path, &Path)>) -> String {
    let masque = masque_tls
        .map(|(certificate, key)| {
            let tls = format!(
                "tls = {{ certificate = {:?}, key = {:?} }}",
                certificate.display().to_string(),
                key.display().to_string()
            );
            format!(
                r#"
[[accounts.proxy_endpoints]]
name = "masque"
protocol = "masque"
listen = "{GATEWAY}:{MASQUE_PORT}"
authorization = {{ source_prefixes = ["10.1.0.0/24", "fd00:c:1::/64"] }}
{tls}

[[accounts.proxy_endpoints]]
name = "masque-credentials"
protocol = "masque"
listen = "{GATEWAY}:{MASQUE_AUTH_PORT}"
authorization = "credentials"
{tls}
"#
            )
        })
        .unwrap_or_default();
    let quoted = |items: &[String]| {
        items
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ports = setup
        .dedicated_ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let max = setup
        .max_connections_per_destination
        .map(|n| format!("max_connections_per_destination = {n}\n"))
        .unwrap_or_default();
    let users = users_toml(&setup.users);
    format!(
        r#"[deployment]
single_location = true
{max}allow_destinations = [{allow}]

[[address_pools]]
name = "leased-v4"
prefix = "203.0.113.0/24"

[[address_pools]]
name = "leased-v6"
prefix = "2001:db8:e000::/48"

[[locations]]
code = "lab"
city = "Labville"
region = "ZZ-LB"
country = "ZZ"
latitude = 0.0
longitude = 0.0
ipv6_slice = 0
default_egress = {{ ipv4 = "{DEFAULT_V4_NET}", ipv6 = "{DEFAULT_V6_NET}" }}

[[nodes]]
id = "lab-1"
location = "lab"

[[accounts]]
id = "lab"
name = "Lab account"
traffic = {{ udp = {udp} }}
{users}
[[accounts.proxy_endpoints]]
name = "http"
protocol = "http"
listen = "{GATEWAY}:{HTTP_PORT}"
authorization = {{ source_prefixes = ["10.1.0.0/24"] }}

[[accounts.proxy_endpoints]]
name = "socks5"
protocol = "socks5"
listen = "{GATEWAY}:{SOCKS_PORT}"
authorization = {{ source_prefixes = ["10.1.0.0/24"] }}

[[accounts.proxy_endpoints]]
name = "http-credentials"
protocol = "http"
listen = "{GATEWAY}:{HTTP_AUTH_PORT}"
authorization = "credentials"

[[accounts.proxy_endpoints]]
name = "socks5-credentials"
protocol = "socks5"
listen = "{GATEWAY}:{SOCKS_AUTH_PORT}"
authorization = "credentials"
{masque}
[[accounts.dedicated_ips]]
ipv4 = "{DEDICATED_V4}"
ipv6 = "{DEDICATED_V6_NET}"
location = "lab"

[[accounts.policies]]
precedence = 10
name = "origin via dedicated"
traffic = 'net.dst.port in {{{ports}}}'
method = {{ dedicated = {{ ipv4 = "{DEDICATED_V4}", ipv4_fallback = "0.0.0.0" }} }}

[[accounts.policies]]
precedence = 1000
name = "everything else"
traffic = 'net.protocol in {{"tcp" "udp"}}'
method = "default"
"#,
        allow = quoted(&setup.allow_destinations),
        udp = setup.udp,
    )
}

/// A directory of its own for one test, removed when dropped.
#[derive(Debug)]
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        static SERIAL: AtomicU32 = AtomicU32::new(0);
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "egressd-e2e-{test}-{}-{serial}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the test's temporary directory");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A lab with whoami in the internet and egressd in the gateway namespace.
///
/// Fields drop in order: the processes are killed and reaped, then the lab deletes the
/// namespaces (killing anything left inside).
#[derive(Debug)]
pub struct Scenario {
    /// The certificate of the MASQUE endpoints, when the setup asked for them.
    pub masque_certificate: Option<egress_harness::SelfSignedCertificate>,
    pub gateway: Process,
    pub whoami: Process,
    pub config: PathBuf,
    pub log: PathBuf,
    pub dir: TempDir,
    pub net: Topology,
    pub lab: Lab,
}

impl Scenario {
    /// Builds the lab, writes the configuration, starts whoami and the gateway and waits until
    /// both listen.
    #[track_caller]
    pub fn start(test: &str, setup: &Setup) -> Scenario {
        let mut lab = Lab::new(test).expect("lab (run the end-to-end tests as root)");
        let net = lab.internet(&EGRESS_PREFIXES).expect("topology");
        assert_eq!(
            net.gateways[0].listen_v4, GATEWAY,
            "the configuration assumes the first gateway"
        );
        let dir = TempDir::new(test);
        let config = dir.path.join("egressd.toml");
        let masque_certificate = setup.masque.then(|| {
            egress_harness::SelfSignedCertificate::generate(MASQUE_NAME)
                .expect("a certificate for the MASQUE endpoints")
        });
        let masque_files = masque_certificate.as_ref().map(|issued| {
            let files = (dir.path.join("masque.pem"), dir.path.join("masque.key"));
            std::fs::write(&files.0, &issued.certificate_pem).expect("write the certificate");
            std::fs::write(&files.1, &issued.key_pem).expect("write the key");
            files
        });
        let tls = masque_files
            .as_ref()
            .map(|(c, k)| (c.as_path(), k.as_path()));
        std::fs::write(&config, config_toml_with(setup, tls)).expect("write the configuration");
        let log = dir.path.join("connections.jsonl");
        let whoami = start_whoami(&net.internet, &setup.origin_ports);
        for (key, value) in &setup.gateway_sysctls {
            net.gateways[0]
                .ns
                .sysctl(key, value)
                .expect("gateway sysctl");
        }
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--config".into(),
            config.display().to_string(),
            "--log-file".into(),
            log.display().to_string(),
            "--data-dir".into(),
            dir.path.join("data").display().to_string(),
        ];
        args.extend(setup.serve_args.iter().cloned());
        let listeners = LISTENERS + if setup.masque { 2 } else { 0 };
        let gateway = start_gateway_expecting(&net.gateways[0].ns, &args, listeners);
        Scenario {
            masque_certificate,
            gateway,
            whoami,
            config,
            log,
            dir,
            net,
            lab,
        }
    }

    /// The gateway's namespace.
    pub fn gateway_ns(&self) -> &Netns {
        &self.net.gateways[0].ns
    }

    /// A client connection from the client namespace to a gateway listener.
    #[track_caller]
    pub fn client(&self, port: u16) -> TcpStream {
        connect(&self.net.client, SocketAddr::new(GATEWAY.into(), port))
    }

    /// The connection log so far.
    pub fn records(&self) -> Vec<Value> {
        read_records(&self.log)
    }

    /// Waits for the log record of the client connection whose local port is `client_port`.
    #[track_caller]
    pub fn record_of(&self, client_port: u16) -> Value {
        self.wait_record(&format!("src_port {client_port}"), |r| {
            r["src_port"] == client_port
        })
    }

    /// Waits until a log record satisfies `pred`; fails with the whole log when none does.
    #[track_caller]
    pub fn wait_record(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_record(&self.log, what, pred)
    }

    /// Fails unless the gateway process is still running.
    #[track_caller]
    pub fn assert_gateway_running(&mut self) {
        if let Some(status) = self.gateway.child.try_wait().expect("poll the gateway") {
            panic!(
                "the gateway exited ({status}); stderr:\n{}",
                self.gateway.stderr_text()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A process the test started, with its standard error collected line by line.
#[derive(Debug)]
pub struct Process {
    pub child: Child,
    pub stderr: Arc<(Mutex<Vec<String>>, Condvar)>,
    name: &'static str,
}

impl Process {
    /// Spawns `cmd` in `ns` with standard error captured (and standard output discarded).
    pub fn spawn(name: &'static str, ns: &Netns, cmd: &mut Command) -> Process {
        let mut child = ns
            .spawn(
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped()),
            )
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stderr = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let pipe = child.stderr.take().expect("stderr is piped");
        let lines = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let (lock, cvar) = &*lines;
                lock.lock().expect("stderr lines").push(line);
                cvar.notify_all();
            }
        });
        Process {
            child,
            stderr,
            name,
        }
    }

    /// Everything the process wrote to standard error so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.0.lock().expect("stderr lines").join("\n")
    }

    /// Waits until at least `count` lines of standard error satisfy `pred`; fails when the
    /// process exits first or the deadline passes.
    #[track_caller]
    pub fn wait_stderr(&mut self, what: &str, count: usize, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            {
                let (lock, cvar) = &*self.stderr;
                let lines = lock.lock().expect("stderr lines");
                if lines.iter().filter(|l| pred(l)).count() >= count {
                    return;
                }
                // Short waits: the exit check below must run too.
                drop(
                    cvar.wait_timeout(lines, Duration::from_millis(20))
                        .expect("stderr lines"),
                );
            }
            if let Some(status) = self.child.try_wait().expect("poll the process") {
                // Let the reader thread catch the last lines.
                std::thread::sleep(Duration::from_millis(50));
                panic!(
                    "{} exited ({status}) before {what}; stderr:\n{}",
                    self.name,
                    self.stderr_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not report {what} within {WAIT:?}; stderr:\n{}",
                self.name,
                self.stderr_text()
            );
        }
    }

    /// Waits for the process to exit, failing after `timeout`.
    #[track_caller]
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the process") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} still runs after {timeout:?}; stderr:\n{}",
                self.name,
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Only this process, by its own id; the lab kills whatever else is left.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `egressd whoami` on the IPv4 and IPv6 origin addresses, one listener per port, and
/// waits until each listens.
#[track_caller]
pub fn start_whoami(internet: &Netns, ports: &[u16]) -> Process {
    let mut cmd = Command::new(EGRESSD);
    cmd.arg("whoami");
    for &port in ports {
        cmd.arg("--listen").arg(origin_v4(port).to_string());
        cmd.arg("--listen").arg(origin_v6(port).to_string());
    }
    let mut whoami = Process::spawn("whoami", internet, &mut cmd);
    whoami.wait_stderr("its listeners", ports.len() * 2, |l| {
        l.contains("listening on")
    });
    whoami
}

/// Starts `egressd ARGS…` in the gateway namespace and waits until all four proxy listeners
/// are bound (the process says so once `listen` returned, so they accept from then on).
#[track_caller]
pub fn start_gateway(ns: &Netns, args: &[String]) -> Process {
    start_gateway_expecting(ns, args, LISTENERS)
}

/// [`start_gateway`] for a configuration with `listeners` proxy listeners.
#[track_caller]
pub fn start_gateway_expecting(ns: &Netns, args: &[String], listeners: usize) -> Process {
    let mut gateway = Process::spawn("egressd serve", ns, Command::new(EGRESSD).args(args));
    gateway.wait_stderr("its proxy listeners", listeners, |l| {
        l.contains("proxy listening on")
    });
    gateway
}

/// Runs a short-lived command to its end (in `ns`, or on the host when `None`), failing after
/// `timeout`.
#[track_caller]
pub fn run_to_end(ns: Option<&Netns>, cmd: &mut Command, timeout: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = match ns {
        Some(ns) => ns.spawn(cmd).expect("start the command"),
        None => cmd.spawn().expect("start the command"),
    };
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(output) => output.expect("collect the command's output"),
        Err(_) => {
            // The process we started, by its id.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid fits")),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
    }
}

/// An argon2id PHC string for `password`, from `egressd hash-password`.
#[track_caller]
pub fn hash_password(password: &str) -> String {
    let mut child = Command::new(EGRESSD)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start egressd hash-password");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(format!("{password}\n").as_bytes())
        .expect("send the password");
    let output = child.wait_with_output().expect("egressd hash-password");
    assert!(
        output.status.success(),
        "hash-password failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hash = String::from_utf8(output.stdout)
        .expect("UTF-8 hash")
        .trim()
        .to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    hash
}

// ---------------------------------------------------------------------------------------------
// Clients

/// A TCP connection made inside `ns`, with read and write deadlines.
#[track_caller]
pub fn connect(ns: &Netns, addr: SocketAddr) -> TcpStream {
    let stream = ns
        .connect_tcp(None, addr)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(IO_TIMEOUT))
        .expect("write timeout");
    stream
}

/// The local port of a client connection (the gateway logs it as `src_port`).
pub fn local_port(stream: &TcpStream) -> u16 {
    stream.local_addr().expect("local address").port()
}

/// An HTTP response as the client read it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Bytes of head and body on the wire.
    pub wire_len: usize,
}

impl Response {
    /// The first header of this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body of a plain-text whoami answer: the address the origin saw.
    #[track_caller]
    pub fn seen_ip(&self) -> IpAddr {
        assert_eq!(self.status, 200, "whoami answered {self:?}");
        self.text()
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("whoami body {:?} is not an address", self.text()))
    }
}

/// Reads one response: the head byte by byte (so nothing after it is consumed, as a tunnel
/// follows a CONNECT answer), then a `Content-Length` body if the status has one.
pub fn read_response(stream: &mut TcpStream) -> std::io::Result<Response> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if read_resuming(stream, &mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("closed after {:?}", String::from_utf8_lossy(&head)),
            ));
        }
        head.push(byte[0]);
        assert!(head.len() < 64 * 1024, "response head too long");
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse::<usize>().expect("numeric Content-Length"));
    let connect_ok = (200..300).contains(&status) && length.is_none();
    let mut body = vec![0u8; if connect_ok { 0 } else { length.unwrap_or(0) }];
    stream.read_exact(&mut body)?;
    Ok(Response {
        status,
        headers,
        wire_len: head.len() + body.len(),
        body,
    })
}

/// `Proxy-Authorization` header line for Basic credentials.
fn proxy_authorization(auth: Option<(&str, &str)>) -> String {
    auth.map(|(u, p)| {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        format!("Proxy-Authorization: Basic {token}\r\n")
    })
    .unwrap_or_default()
}

/// `host:port` as a request target (`[v6]:port` for IPv6).
pub fn authority(target: SocketAddr) -> String {
    target.to_string()
}

/// Sends `CONNECT target` (with Basic credentials when given) and reads the proxy's answer.
#[track_caller]
pub fn http_connect(stream: &mut TcpStream, target: &str, auth: Option<(&str, &str)>) -> Response {
    let request = format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{}\r\n",
        proxy_authorization(auth)
    );
    stream.write_all(request.as_bytes()).expect("send CONNECT");
    read_response(stream).unwrap_or_else(|e| panic!("answer to CONNECT {target}: {e}"))
}

/// Opens a CONNECT tunnel and fails unless the proxy answers 200.
#[track_caller]
pub fn tunnel(stream: &mut TcpStream, target: SocketAddr, auth: Option<(&str, &str)>) {
    let response = http_connect(stream, &authority(target), auth);
    assert_eq!(response.status, 200, "CONNECT {target}: {response:?}");
}

/// The origin-form whoami request (`/` plain text or `/json`).
pub fn whoami_request(path: &str, close: bool) -> String {
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!("GET {path} HTTP/1.1\r\nHost: whoami\r\n{connection}\r\n")
}

/// Asks whoami over an open tunnel; returns the request's length on the wire and the answer.
#[track_caller]
pub fn ask_whoami(stream: &mut TcpStream, path: &str, close: bool) -> (usize, Response) {
    let request = whoami_request(path, close);
    stream
        .write_all(request.as_bytes())
        .expect("send the whoami request");
    let response = read_response(stream).expect("whoami answer");
    (request.len(), response)
}

/// Sends an absolute-form `GET http://target/path` (a forward-proxy request) and reads the
/// answer.
#[track_caller]
pub fn http_get(
    stream: &mut TcpStream,
    target: SocketAddr,
    path: &str,
    auth: Option<(&str, &str)>,
) -> Response {
    let host = authority(target);
    let request = format!(
        "GET http://{host}{path} HTTP/1.1\r\nHost: {host}\r\n{}Connection: close\r\n\r\n",
        proxy_authorization(auth)
    );
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    read_response(stream).expect("answer to the forward request")
}

/// How a SOCKS5 exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socks {
    /// CONNECT succeeded; the bound address the gateway reported.
    Connected(SocketAddr),
    /// CONNECT failed with this reply code.
    Reply(u8),
    /// The server chose this method instead of the one the client offered.
    Method(u8),
    /// RFC 1929 sub-negotiation failed with this status.
    AuthFailed(u8),
}

/// Greets (offering username/password when `auth` is given, else no authentication),
/// authenticates and sends CONNECT for `target`.
#[track_caller]
pub fn socks5_connect(
    stream: &mut TcpStream,
    auth: Option<(&str, &str)>,
    target: SocketAddr,
) -> Socks {
    let method = if auth.is_some() { 2u8 } else { 0u8 };
    stream
        .write_all(&[5, 1, method])
        .expect("send the greeting");
    let mut selection = [0u8; 2];
    stream.read_exact(&mut selection).expect("method selection");
    assert_eq!(selection[0], 5, "method selection {selection:?}");
    if selection[1] != method {
        return Socks::Method(selection[1]);
    }
    if let Some((user, pass)) = auth {
        let mut msg = vec![1, u8::try_from(user.len()).expect("short user")];
        msg.extend_from_slice(user.as_bytes());
        msg.push(u8::try_from(pass.len()).expect("short password"));
        msg.extend_from_slice(pass.as_bytes());
        stream.write_all(&msg).expect("send the credentials");
        let mut status = [0u8; 2];
        stream
            .read_exact(&mut status)
            .expect("authentication status");
        assert_eq!(status[0], 1, "sub-negotiation version {status:?}");
        if status[1] != 0 {
            return Socks::AuthFailed(status[1]);
        }
    }
    let mut request = vec![5, 1, 0];
    match target.ip() {
        IpAddr::V4(v4) => {
            request.push(1);
            request.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            request.push(4);
            request.extend_from_slice(&v6.octets());
        }
    }
    request.extend_from_slice(&target.port().to_be_bytes());
    stream.write_all(&request).expect("send CONNECT");
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).expect("CONNECT reply");
    assert_eq!(reply[0], 5, "reply {reply:?}");
    let bound_ip: IpAddr = match reply[3] {
        1 => {
            let mut a = [0u8; 4];
            stream.read_exact(&mut a).expect("bound IPv4");
            Ipv4Addr::from(a).into()
        }
        4 => {
            let mut a = [0u8; 16];
            stream.read_exact(&mut a).expect("bound IPv6");
            Ipv6Addr::from(a).into()
        }
        other => panic!("reply address type {other}"),
    };
    let mut port = [0u8; 2];
    stream.read_exact(&mut port).expect("bound port");
    if reply[1] != 0 {
        return Socks::Reply(reply[1]);
    }
    Socks::Connected(SocketAddr::new(bound_ip, u16::from_be_bytes(port)))
}

/// Whether the peer has closed: the next read returns end of stream or a reset, not data.
#[track_caller]
pub fn assert_closed(stream: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 256];
    match read_resuming(stream, &mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(n) => panic!(
            "{what}: expected the gateway to close, got {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => panic!("{what}: expected the gateway to close, got {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The connection log

/// Every complete record of a connection log (JSON lines); a missing file is an empty log.
/// A last line without its newline is being written right now and is left for the next read.
#[track_caller]
pub fn read_records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l:?} is not JSON: {e}"))
        })
        .collect()
}

/// Waits until a record satisfies `pred`.
#[track_caller]
pub fn wait_record(path: &Path, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let records = read_records(path);
        if let Some(found) = records.iter().find(|r| pred(r)) {
            return found.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no log record with {what} within {WAIT:?}; the log:\n{}",
            records
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A record's string field.
#[track_caller]
pub fn field<'a>(record: &'a Value, name: &str) -> &'a str {
    record[name]
        .as_str()
        .unwrap_or_else(|| panic!("record has no string {name}: {record}"))
}
