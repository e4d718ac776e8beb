//! A node in store mode and its admin API: the configuration imported with `egressd config
//! import`, tokens made with `egressd token create`, `serve` without `--config`, and a small
//! blocking HTTP/1.1 client that talks to the API from inside the gateway namespace.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use egress_harness::{Lab, Netns};
use serde_json::Value;

use super::{run_to_end, start_whoami, Process, Scenario, TempDir, EGRESSD, IO_TIMEOUT, WAIT};

/// Where the admin API listens, inside the gateway namespace.
pub const ADMIN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9090);

/// Deadline for one CLI command (`config import`, `token create`, `config export`).
const CLI_TIMEOUT: Duration = Duration::from_secs(20);

impl Scenario {
    /// Builds the lab with these egress prefixes, imports `toml` into a fresh store, starts
    /// whoami on `origin_ports` and `egressd serve` in store mode (no `--config`), and waits
    /// until its `proxy_listeners` proxy listeners and the admin API listen.
    #[track_caller]
    pub fn start_store(
        test: &str,
        toml: &str,
        egress: &[&str],
        origin_ports: &[u16],
        proxy_listeners: usize,
    ) -> Scenario {
        let mut lab = Lab::new(test).expect("lab (run the end-to-end tests as root)");
        let net = lab.internet(egress).expect("topology");
        let dir = TempDir::new(test);
        let config = dir.path.join("imported.toml");
        std::fs::write(&config, toml).expect("write the configuration");
        let log = dir.path.join("connections.jsonl");
        let imported = cli(&[
            "config",
            "import",
            &config.display().to_string(),
            "--data-dir",
            &dir.path.join("data").display().to_string(),
        ]);
        assert!(imported.contains("as revision 1"), "{imported}");
        let whoami = start_whoami(&net.internet, origin_ports);
        let gateway = serve_store(
            &net.gateways[0].ns,
            &dir.path.join("data"),
            &log,
            proxy_listeners,
        );
        Scenario {
            masque_certificate: None,
            gateway,
            whoami,
            config,
            log,
            dir,
            net,
            lab,
        }
    }

    /// The store's directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path.join("data")
    }

    /// Starts `egressd serve` in store mode on this scenario's data directory and waits until
    /// its proxy listeners and the admin API listen. The caller replaces `self.gateway`.
    #[track_caller]
    pub fn serve_store(&self, proxy_listeners: usize) -> Process {
        serve_store(
            self.gateway_ns(),
            &self.data_dir(),
            &self.log,
            proxy_listeners,
        )
    }

    /// Creates an admin token with `egressd token create` and returns its secret.
    #[track_caller]
    pub fn token(&self, name: &str, account: Option<&str>, write: bool) -> String {
        let data_dir = self.data_dir().display().to_string();
        let mut args = vec!["token", "create", "--name", name, "--data-dir", &data_dir];
        if let Some(account) = account {
            args.extend(["--account", account]);
        }
        if write {
            args.push("--write");
        }
        let secret = cli(&args).trim().to_string();
        assert!(secret.starts_with("egt_"), "token secret {secret:?}");
        secret
    }

    /// A client of this node's admin API presenting `token`.
    pub fn admin(&self, token: &str) -> Admin {
        Admin {
            ns: self.gateway_ns().clone(),
            addr: ADMIN,
            token: Some(token.to_string()),
        }
    }

    /// `egressd config export [--revision N]` of this node's store.
    #[track_caller]
    pub fn export(&self, revision: Option<u64>) -> String {
        let data_dir = self.data_dir().display().to_string();
        let number = revision.map(|n| n.to_string());
        let mut args = vec!["config", "export", "--data-dir", &data_dir];
        if let Some(n) = &number {
            args.extend(["--revision", n]);
        }
        cli(&args)
    }
}

/// Starts `egressd serve --data-dir DATA_DIR` (store mode) in `ns` with the admin API on
/// [`ADMIN`], and waits until its proxy listeners and the admin API listen.
#[track_caller]
fn serve_store(ns: &Netns, data_dir: &Path, log: &Path, proxy_listeners: usize) -> Process {
    let args = [
        "serve".to_string(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--log-file".into(),
        log.display().to_string(),
        "--admin-listen".into(),
        ADMIN.to_string(),
    ];
    let mut gateway = Process::spawn("egressd serve", ns, Command::new(EGRESSD).args(args));
    gateway.wait_stderr("its proxy listeners", proxy_listeners, |l| {
        l.contains("proxy listening on")
    });
    gateway.wait_stderr("its admin API", 1, |l| l.contains("admin API listening on"));
    gateway
}

/// Runs `egressd ARGS…` on the host to its end, fails unless it succeeds, returns its stdout.
#[track_caller]
pub fn cli(args: &[&str]) -> String {
    let output = run_to_end(None, Command::new(EGRESSD).args(args), CLI_TIMEOUT);
    assert!(
        output.status.success(),
        "egressd {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// A blocking client of the admin API: one connection per request, made in the gateway
/// namespace, `Connection: close`, every read and write under [`IO_TIMEOUT`].
#[derive(Debug, Clone)]
pub struct Admin {
    ns: Netns,
    addr: SocketAddr,
    token: Option<String>,
}

/// An answer of the admin API.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    /// The body as JSON (`Null` when empty or not JSON).
    pub json: Value,
}

impl Reply {
    /// The first header of this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The revision the `ETag` names (`"12"` → 12).
    pub fn etag(&self) -> Option<u64> {
        let tag = self.header("etag")?;
        tag.trim_start_matches("W/").trim_matches('"').parse().ok()
    }

    /// Fails unless the status is `status`; returns the reply.
    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        self
    }

    /// Fails unless the status is `status` and the body's `error` is `code`.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Reply {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        assert_eq!(
            self.json["error"], code,
            "unexpected error body: {}",
            self.text
        );
        self
    }
}

impl Admin {
    /// A client of the admin API at `addr`, reached from namespace `ns`.
    pub fn at(ns: &Netns, addr: SocketAddr, token: &str) -> Admin {
        Admin {
            ns: ns.clone(),
            addr,
            token: Some(token.to_string()),
        }
    }

    /// The same client without a token.
    pub fn anonymous(&self) -> Admin {
        Admin {
            ns: self.ns.clone(),
            addr: self.addr,
            token: None,
        }
    }

    /// Sends one request; an I/O failure (the node is down, say) is an error, any HTTP status
    /// is a reply.
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> std::io::Result<Reply> {
        let mut stream = self
            .ns
            .connect_tcp(None, self.addr)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(token) = &self.token {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() {
            request.push_str("Content-Type: application/json\r\n");
        }
        request.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        stream.write_all(request.as_bytes())?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        parse_reply(&raw)
    }

    /// Sends one request and fails on an I/O error.
    #[track_caller]
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.try_call(method, path, body, headers)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    #[track_caller]
    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None, &[])
    }

    #[track_caller]
    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.call("POST", path, Some(body), &[])
    }

    #[track_caller]
    pub fn put(&self, path: &str, body: &Value) -> Reply {
        self.call("PUT", path, Some(body), &[])
    }

    #[track_caller]
    pub fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, None, &[])
    }

    /// Waits until `/readyz` answers 200.
    #[track_caller]
    pub fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            match self.try_call("GET", "/readyz", None, &[]) {
                Ok(reply) if reply.status == 200 => return,
                other => assert!(
                    std::time::Instant::now() < deadline,
                    "the admin API is not ready within {WAIT:?}: {other:?}"
                ),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Parses a whole `Connection: close` response: head, then a `Content-Length`, chunked or
/// read-to-end body.
fn parse_reply(raw: &[u8]) -> std::io::Result<Reply> {
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            invalid(format!(
                "no response head in {:?}",
                String::from_utf8_lossy(raw)
            ))
        })?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let rest = &raw[end + 4..];
    let body = if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        dechunk(rest).ok_or_else(|| invalid("malformed chunked body".into()))?
    } else if let Some(length) = header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| invalid(format!("Content-Length {length:?}")))?;
        if rest.len() < length {
            return Err(invalid(format!(
                "body cut short: {} of {length} bytes",
                rest.len()
            )));
        }
        rest[..length].to_vec()
    } else {
        rest.to_vec()
    };
    let text = String::from_utf8_lossy(&body).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        headers,
        text,
        json,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// `s` with every byte outside unreserved characters percent-encoded, for a path segment.
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
