//! `egressd geo check` against MaxMind DB files that agree and disagree with the example
//! configuration, and `egressd geofeed` on it: the real binary, its output and exit status.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use egress_mmdb_writer::{city_record, MmdbWriter};
use egress_model::Config;

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

/// A file under the temp dir, unique to this process, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("egressd-geo-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("temp file written");
        TempFile(path)
    }

    fn arg(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A City database placing every egress prefix of the example where it is configured.
fn agreeing() -> MmdbWriter {
    let config = Config::load(std::path::Path::new(EXAMPLE)).expect("the example loads");
    let mut w = MmdbWriter::new("GeoIP2-City");
    for l in &config.locations {
        let sub = l.region.split_once('-').map(|(_, s)| s);
        let record = city_record(&l.country, sub, Some(&l.city));
        w.insert(l.default_egress.ipv4.into(), &record);
        if let Some(v6) = l.default_egress.ipv6 {
            w.insert(v6.into(), &record);
        }
        for ip in config.accounts.iter().flat_map(|a| &a.dedicated_ips) {
            if ip.location == l.code {
                w.insert_addr(IpAddr::V4(ip.ipv4), &record);
                w.insert(ip.ipv6.into(), &record);
            }
        }
    }
    w
}

#[test]
fn databases_that_agree_exit_zero() {
    let db = TempFile::new("agree.mmdb", &agreeing().to_bytes());
    let (code, out) = egressd(&["geo", "check", "--config", EXAMPLE, "--mmdb", db.arg()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("16 addresses, 1 databases: 0 mismatches, 0 errors"),
        "{out}"
    );
    assert!(
        out.contains("203.0.113.10 (dedicated 203.0.113.10/32, account acme): expected lax US US-CA Los Angeles"),
        "{out}"
    );
}

#[test]
fn a_database_placing_an_ip_elsewhere_exits_three_and_names_it() {
    let good = TempFile::new("good.mmdb", &agreeing().to_bytes());
    let mut stale = agreeing();
    stale.insert_addr(
        "203.0.113.20".parse().expect("ip"),
        &city_record("NL", Some("NH"), Some("Amsterdam")),
    );
    let stale = TempFile::new("stale.mmdb", &stale.to_bytes());
    let (code, out) = egressd(&[
        "geo",
        "check",
        "--config",
        EXAMPLE,
        "--mmdb",
        good.arg(),
        "--mmdb",
        stale.arg(),
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains(&format!(
            "  {}: MISMATCH country,city: NL NL-NH Amsterdam",
            stale.arg()
        )),
        "{out}"
    );
    assert!(out.contains("1 mismatches"), "{out}");

    let (code, out) = egressd(&[
        "geo",
        "check",
        "--config",
        EXAMPLE,
        "--mmdb",
        stale.arg(),
        "--json",
    ]);
    assert_eq!(code, 3, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(report["mismatches"], 1);
    let nyc = report["addresses"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|a| a["address"] == "203.0.113.20")
        .expect("checked");
    assert_eq!(nyc["expected"]["city"], "New York");
    assert_eq!(nyc["answers"][0]["country"], "NL");
    assert_eq!(nyc["matches"], false);
}

#[test]
fn a_file_that_is_no_database_exits_two() {
    let junk = TempFile::new("junk.mmdb", b"not a database");
    let (code, out) = egressd(&["geo", "check", "--config", EXAMPLE, "--mmdb", junk.arg()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not a readable MaxMind DB file"), "{out}");
}

#[test]
fn geofeed_prints_the_feed_of_the_configuration() {
    let (code, out) = egressd(&["geofeed", "--config", EXAMPLE]);
    assert_eq!(code, 0, "{out}");
    let config = Config::load(std::path::Path::new(EXAMPLE)).expect("the example loads");
    assert_eq!(out, egress_geo::geofeed(&config).to_csv());
    assert!(
        out.contains("\n203.0.113.30/32,DE,DE-HE,Frankfurt am Main,\n"),
        "{out}"
    );
    assert!(
        !out.contains("192.0.2.10"),
        "BYOIP is left out by default: {out}"
    );
}
