//! The database check reports, per egress address and database, what the database says and
//! whether it agrees with the configuration.

use std::net::IpAddr;

use egress_geo::{check, GeoDatabase, GeoError, Verdict};
use egress_mmdb_writer::{city_record, MmdbWriter};
use egress_model::Config;

const EXAMPLE: &str = include_str!("../../../examples/egressd.toml");

fn config() -> Config {
    Config::from_toml(EXAMPLE, "t.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// A City database that places every egress prefix where the example says.
fn agreeing(config: &Config) -> MmdbWriter {
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

fn open(name: &str, w: &MmdbWriter) -> GeoDatabase {
    GeoDatabase::from_bytes(name, w.to_bytes()).expect("a valid database")
}

#[test]
fn a_database_that_agrees_matches_everywhere() {
    let config = config();
    let report = check(&config, &[open("city.mmdb", &agreeing(&config))]);
    assert!(report.all_match(), "{report:#?}");
    assert_eq!(report.mismatches, 0);
    // 5 dedicated IPs (IPv4 and /64 each) + 3 locations (IPv4 and IPv6 default ranges).
    assert_eq!(report.addresses.len(), 16);
    let lax = report
        .addresses
        .iter()
        .find(|a| a.address.to_string() == "203.0.113.10")
        .expect("checked");
    assert_eq!(lax.expected.code, "lax");
    assert_eq!(lax.account.as_deref(), Some("acme"));
    let answer = &lax.answers[0];
    assert_eq!(answer.verdict, Verdict::Match);
    assert_eq!(answer.country.as_deref(), Some("US"));
    assert_eq!(answer.region.as_deref(), Some("US-CA"));
    assert_eq!(answer.city.as_deref(), Some("Los Angeles"));
    assert_eq!(report.databases[0].database_type, "GeoIP2-City");
}

#[test]
fn a_database_that_places_an_ip_elsewhere_is_a_mismatch_named_by_field() {
    let config = config();
    let mut wrong = agreeing(&config);
    // The nyc IPv4 still in the US but in the wrong city; the fra /64 in the wrong country.
    wrong.insert_addr(
        "203.0.113.20".parse().expect("ip"),
        &city_record("US", Some("CA"), Some("Los Angeles")),
    );
    wrong.insert(
        "2001:db8:e000:30::/64".parse().expect("net"),
        &city_record("NL", None, Some("Amsterdam")),
    );
    let dbs = [
        open("good.mmdb", &agreeing(&config)),
        open("stale.mmdb", &wrong),
    ];
    let report = check(&config, &dbs);
    assert_eq!(report.mismatches, 2, "{report:#?}");
    assert!(!report.all_match());
    let by_addr = |a: &str| {
        report
            .addresses
            .iter()
            .find(|c| c.address.to_string() == a)
            .unwrap_or_else(|| panic!("{a} not checked"))
    };
    let nyc = by_addr("203.0.113.20");
    assert!(!nyc.matches);
    assert_eq!(nyc.answers[0].verdict, Verdict::Match);
    assert_eq!(nyc.answers[1].verdict, Verdict::Mismatch);
    assert_eq!(nyc.answers[1].mismatched, vec!["city"]);
    assert_eq!(nyc.answers[1].database, "stale.mmdb");
    let fra6 = by_addr("2001:db8:e000:30::");
    assert_eq!(fra6.answers[1].mismatched, vec!["country", "city"]);
    assert_eq!(fra6.answers[1].country.as_deref(), Some("NL"));
    assert!(by_addr("203.0.113.10").matches);
}

#[test]
fn a_country_database_is_compared_on_country_only_and_unlisted_addresses_do_not_fail() {
    let config = config();
    let mut w = MmdbWriter::new("GeoLite2-Country");
    w.insert(
        "203.0.113.0/25".parse().expect("net"),
        &city_record("US", None, None),
    );
    let report = check(&config, &[open("country.mmdb", &w)]);
    let verdict = |a: &str| {
        report
            .addresses
            .iter()
            .find(|c| c.address.to_string() == a)
            .map(|c| c.answers[0].verdict)
    };
    assert_eq!(verdict("203.0.113.10"), Some(Verdict::Match));
    // fra's IPv4 is inside the US block: the country differs.
    assert_eq!(verdict("203.0.113.30"), Some(Verdict::Mismatch));
    assert_eq!(verdict("198.51.100.0"), Some(Verdict::NotListed));
    assert_eq!(report.mismatches, 2, "fra's two IPv4s: {report:#?}");
}

#[test]
fn a_file_that_is_no_database_is_refused_with_its_name() {
    let err =
        GeoDatabase::from_bytes("junk.mmdb", b"not a database".to_vec()).expect_err("refused");
    assert!(matches!(err, GeoError::Open { .. }));
    assert!(err.to_string().starts_with("junk.mmdb: "), "{err}");
}
