//! The CLI commands over the admin API: list, add, move, disable and delete policies, list
//! leased IPs, explain and read logs, against a real node (store mode, loopback only).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EGRESSD: &str = env!("CARGO_BIN_EXE_egressd");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/egressd.toml");

struct Node {
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn run(args: &[&str], token: &str) -> (i32, String) {
    let out = Command::new(EGRESSD)
        .args(args)
        .env("EGRESSD_TOKEN", token)
        .output()
        .expect("runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn cli_over_the_api_manages_policies() {
    let dir = std::env::temp_dir().join(format!("egressd-cli-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // The example's proxy listeners on free loopback ports, so the node starts anywhere.
    let config = std::fs::read_to_string(EXAMPLE)
        .expect("example")
        .replace("0.0.0.0:3128", &format!("127.0.0.1:{}", free_port()))
        .replace("0.0.0.0:1080", &format!("127.0.0.1:{}", free_port()))
        .replace("0.0.0.0:3129", &format!("127.0.0.1:{}", free_port()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("egressd.toml");
    std::fs::write(&file, config).expect("write");
    let data = dir.join("data");
    let data_s = data.to_str().expect("utf-8");
    let (code, out) = run(
        &[
            "config",
            "import",
            file.to_str().expect("utf-8"),
            "--data-dir",
            data_s,
        ],
        "",
    );
    assert_eq!(code, 0, "{out}");
    let token = Command::new(EGRESSD)
        .args([
            "token",
            "create",
            "--name",
            "cli",
            "--write",
            "--data-dir",
            data_s,
        ])
        .output()
        .expect("token");
    let token = String::from_utf8_lossy(&token.stdout).trim().to_string();
    assert!(token.starts_with("egt_"), "{token}");
    let port = free_port();
    let api = format!("http://127.0.0.1:{port}");
    let child = Command::new(EGRESSD)
        .args([
            "serve",
            "--data-dir",
            data_s,
            "--admin-listen",
            &format!("127.0.0.1:{port}"),
            "--log-file",
            "/dev/null",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let _node = Node { child, dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the admin API did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let a = ["--api", api.as_str()];
    let cmd = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&a);
        run(&all, &token)
    };

    let (code, out) = cmd(&[
        "policies",
        "add",
        "--account",
        "globex",
        "--name",
        "ssh lab",
        "--precedence",
        "5",
        "--traffic",
        "net.dst.port == 22",
        "--dedicated",
        "203.0.113.40",
        "--fallback",
        "0.0.0.0",
    ]);
    assert_eq!(code, 0, "{out}");
    let (_, out) = cmd(&["policies", "list", "--account", "globex"]);
    let order: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(order, ["ssh", "ops"], "{out}");
    let (code, out) = cmd(&[
        "policies",
        "move",
        "--account",
        "globex",
        "ssh lab",
        "--to",
        "20",
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = cmd(&["policies", "disable", "--account", "globex", "ssh lab"]);
    assert_eq!(code, 0, "{out}");
    let (_, out) = cmd(&["policies", "list", "--account", "globex", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(list[1]["name"], "ssh lab", "{list}");
    assert_eq!(list[1]["precedence"], 20, "{list}");
    assert_eq!(list[1]["enabled"], false, "{list}");

    // A refused write names the field and the rule, and exits non-zero.
    let (code, out) = cmd(&[
        "policies",
        "add",
        "--account",
        "globex",
        "--name",
        "bad",
        "--precedence",
        "7",
        "--dedicated",
        "203.0.113.40",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("method.ipv4_fallback") && out.contains("[fallback_required]"),
        "{out}"
    );

    let (code, out) = cmd(&["leased-ips"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("192.0.2.10") && l.contains("globex") && l.contains("byoip")),
        "{out}"
    );

    let (code, out) = cmd(&[
        "explain",
        "--account",
        "acme",
        "--user",
        "alice",
        "--from",
        "10.20.1.5",
        "--to",
        "198.18.0.10:443",
        "--location",
        "fra",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("policy: \"bank via lax\"") && out.contains("egress_location lax"),
        "{out}"
    );

    let (code, out) = cmd(&["policies", "delete", "--account", "globex", "ssh lab"]);
    assert_eq!(code, 0, "{out}");
    let (_, out) = cmd(&["policies", "list", "--account", "globex", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out)
            .expect("JSON")
            .as_array()
            .map(Vec::len),
        Some(1),
        "{out}"
    );

    let (code, out) = cmd(&["logs", "--limit", "5"]);
    assert_eq!(code, 0, "{out}");
}
