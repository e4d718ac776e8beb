//! `egressd trace` and `egressd config check` on the example configuration.

use std::process::Command;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/egressd.toml");

fn egressd(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_egressd"))
        .args(args)
        .output()
        .expect("runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn trace_shows_ipv4_leaving_at_the_location_that_holds_it() {
    let (code, out) = egressd(&[
        "trace",
        "--config",
        EXAMPLE,
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
    assert!(out.contains("policy: \"bank via lax\""), "{out}");
    assert!(out.contains("ipv4: source 203.0.113.10 (Dedicated), egress_location lax, egress_ip_location lax, forwarded to lax"), "{out}");
}

#[test]
fn trace_shows_ipv6_leaving_locally_inside_the_policy_slash64() {
    let (code, out) = egressd(&[
        "trace",
        "--config",
        EXAMPLE,
        "--account",
        "acme",
        "--user",
        "alice",
        "--from",
        "10.20.1.5",
        "--to",
        "[2001:db8:ba::1]:443",
        "--location",
        "fra",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let plan = &v["plan"]["Ok"];
    assert_eq!(plan["policy"]["name"], "bank via lax");
    let v6 = &plan["ipv6"];
    assert_eq!(v6["egress_location"], "fra");
    assert_eq!(v6["egress_ip_location"], "lax");
    let source: std::net::Ipv6Addr = v6["source"]
        .as_str()
        .expect("source")
        .parse()
        .expect("IPv6");
    let net: ipnet::Ipv6Net = "2001:db8:e000:10::/64".parse().expect("valid");
    assert!(net.contains(&source), "{source}");
}

#[test]
fn trace_of_a_refused_connection_exits_1() {
    let (code, out) = egressd(&[
        "trace",
        "--config",
        EXAMPLE,
        "--account",
        "globex",
        "--user",
        "hank",
        "--from",
        "10.0.0.1",
        "--to",
        "198.18.0.10:443",
        "--proto",
        "udp",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refused: udp_disabled"), "{out}");
}

#[test]
fn config_check_accepts_the_example_and_lists_every_problem_of_a_bad_file() {
    let (code, out) = egressd(&["config", "check", EXAMPLE]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("valid (3 locations, 3 nodes, 2 accounts, 9 egress policies)"),
        "{out}"
    );

    let bad = std::fs::read_to_string(EXAMPLE)
        .expect("example")
        .replacen("precedence = 20\n", "precedence = 10\n", 1)
        .replacen(r#", ipv4_fallback = "203.0.113.20" }"#, " }", 1);
    let path = std::env::temp_dir().join(format!("egressd-bad-{}.toml", std::process::id()));
    std::fs::write(&path, bad).expect("write");
    let (code, out) = egressd(&["config", "check", path.to_str().expect("utf-8")]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("[duplicate_precedence]"), "{out}");
    assert!(out.contains("[fallback_required]"), "{out}");
    assert!(out.contains(": 2 problems"), "{out}");
}

#[test]
fn the_embedded_default_is_a_valid_single_location_configuration() {
    // `serve` without --config must always start: its configuration is checked here.
    let text = include_str!("../src/default.toml");
    let config =
        egress_model::Config::from_toml(text, "default.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(config.deployment.single_location);
    assert_eq!(config.accounts[0].dedicated_ips.len(), 1);
    // The same account without single_location breaks DESIGN rule 11.
    let strict = text.replacen("single_location = true", "single_location = false", 1);
    let err = egress_model::Config::from_toml(&strict, "default.toml").expect_err("rule 11");
    assert!(err.to_string().contains("[too_few_dedicated_ips]"), "{err}");
}
