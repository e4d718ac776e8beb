//! A node started with `--geo-mmdb` answers `GET /v1/geo/check` from that database, exports the
//! disagreements as `egressd_geo_mismatches`, and serves `/geofeed.csv` without a token.
//! Loopback only: the embedded default configuration on free ports.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use egress_mmdb_writer::{city_record, MmdbWriter};

const EGRESSD: &str = env!("CARGO_BIN_EXE_egressd");
const DEFAULT_TOML: &str = include_str!("../src/default.toml");

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `GET path` → (status, body).
fn get(port: u16, path: &str, token: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

fn egressd(args: &[&str]) -> String {
    let out = Command::new(EGRESSD).args(args).output().expect("runs");
    assert!(
        out.status.success(),
        "egressd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_node_checks_its_databases_and_exports_the_mismatches() {
    let dir = Dir(std::env::temp_dir().join(format!("egressd-geo-serve-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let path = |name: &str| dir.0.join(name).to_str().expect("UTF-8").to_string();

    let config = DEFAULT_TOML
        .replace("127.0.0.1:3128", &format!("127.0.0.1:{}", free_port()))
        .replace("127.0.0.1:1080", &format!("127.0.0.1:{}", free_port()));
    std::fs::write(path("egressd.toml"), config).expect("config written");
    // The default range geolocates where configured; the dedicated 127.0.0.2 does not.
    let mut db = MmdbWriter::new("GeoIP2-City");
    db.insert(
        "127.0.0.1/32".parse().expect("net"),
        &city_record("ZZ", Some("LO"), Some("Localhost")),
    )
    .insert(
        "127.0.0.2/32".parse().expect("net"),
        &city_record("ZZ", Some("LO"), Some("Elsewhere")),
    );
    db.write(std::path::Path::new(&path("city.mmdb")))
        .expect("database written");

    let data = path("data");
    egressd(&[
        "config",
        "import",
        &path("egressd.toml"),
        "--data-dir",
        &data,
    ]);
    let token = egressd(&["token", "create", "--name", "t", "--data-dir", &data]);
    let admin = free_port();
    let child = Command::new(EGRESSD)
        .args([
            "serve",
            "--data-dir",
            &data,
            "--admin-listen",
            &format!("127.0.0.1:{admin}"),
            "--log-file",
            &path("connections.jsonl"),
            "--geo-mmdb",
            &path("city.mmdb"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let _node = Node(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(get(admin, "/readyz", None), Ok((200, _))) {
        assert!(Instant::now() < deadline, "the node never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }

    let (status, body) = get(admin, "/v1/geo/check", Some(&token)).expect("answers");
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(report["mismatches"], 1, "{body}");
    let dedicated = report["addresses"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|a| a["address"] == "127.0.0.2")
        .expect("checked");
    assert_eq!(dedicated["answers"][0]["city"], "Elsewhere");
    assert_eq!(
        dedicated["answers"][0]["mismatched"],
        serde_json::json!(["city"])
    );

    let (status, metrics) = get(admin, "/metrics", Some(&token)).expect("answers");
    assert_eq!(status, 200);
    assert!(
        metrics.lines().any(|l| l == "egressd_geo_mismatches 1"),
        "{metrics}"
    );

    let (status, feed) = get(admin, "/geofeed.csv", None).expect("answers");
    assert_eq!(status, 200, "{feed}");
    assert!(
        feed.lines()
            .any(|l| l == "127.0.0.2/32,ZZ,ZZ-LO,Localhost,"),
        "{feed}"
    );
}
