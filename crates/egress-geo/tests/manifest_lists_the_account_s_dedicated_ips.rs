//! An account's egress manifest: its dedicated IPs, their locations and status, versioned.

use egress_geo::{manifest, GeoError, MANIFEST_VERSION};
use egress_model::Config;

const EXAMPLE: &str = include_str!("../../../examples/egressd.toml");

#[test]
fn the_manifest_lists_every_dedicated_ip_with_location_and_status() {
    let text = EXAMPLE.replacen(
        "ipv4 = \"203.0.113.30\"\n",
        "ipv4 = \"203.0.113.30\"\nstatus = \"draining\"\n",
        1,
    );
    let config = Config::from_toml(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let m = manifest(&config, "acme", 7).expect("acme exists");
    let json = serde_json::to_value(&m).expect("serialises");
    assert_eq!(json["version"], MANIFEST_VERSION);
    assert_eq!(json["account"], "acme");
    assert_eq!(json["revision"], 7);
    let ips = json["dedicated_ips"].as_array().expect("a list");
    let shown: Vec<(String, String, String, String, String)> = ips
        .iter()
        .map(|ip| {
            let s = |v: &serde_json::Value| v.as_str().expect("text").to_string();
            (
                s(&ip["ipv4"]),
                s(&ip["ipv6"]),
                s(&ip["location"]["code"]),
                s(&ip["location"]["region"]),
                s(&ip["status"]),
            )
        })
        .collect();
    let row = |a: &str, b: &str, c: &str, d: &str, e: &str| {
        (a.into(), b.into(), c.into(), d.into(), e.into())
    };
    assert_eq!(
        shown,
        vec![
            row(
                "203.0.113.10",
                "2001:db8:e000:10::/64",
                "lax",
                "US-CA",
                "active"
            ),
            row(
                "203.0.113.20",
                "2001:db8:e000:20::/64",
                "nyc",
                "US-NY",
                "active"
            ),
            row(
                "203.0.113.30",
                "2001:db8:e000:30::/64",
                "fra",
                "DE-HE",
                "draining"
            ),
        ]
    );
    assert_eq!(ips[2]["location"]["city"], "Frankfurt am Main");
    assert_eq!(ips[2]["location"]["country"], "DE");
}

#[test]
fn another_account_s_addresses_never_appear() {
    let config = Config::from_toml(EXAMPLE, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let m = manifest(&config, "globex", 1).expect("globex exists");
    let ipv4s: Vec<String> = m
        .dedicated_ips
        .iter()
        .map(|ip| ip.ipv4.to_string())
        .collect();
    assert_eq!(ipv4s, vec!["192.0.2.10", "203.0.113.40"]);
    assert!(matches!(
        manifest(&config, "initech", 1),
        Err(GeoError::UnknownAccount { .. })
    ));
}
