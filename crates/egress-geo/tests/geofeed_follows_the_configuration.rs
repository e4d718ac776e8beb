//! The geofeed of examples/egressd.toml places every published egress prefix in its location.

use std::net::IpAddr;

use egress_geo::{geofeed, Geofeed};
use egress_model::{Config, IpSource};
use ipnet::IpNet;

const EXAMPLE: &str = include_str!("../../../examples/egressd.toml");

fn example(edit: Option<(&str, &str)>) -> Config {
    let text = match edit {
        Some((from, to)) => {
            assert!(EXAMPLE.contains(from), "the example lacks {from:?}");
            EXAMPLE.replace(from, to)
        }
        None => EXAMPLE.to_string(),
    };
    Config::from_toml(&text, "examples/egressd.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// The rows covering `addr`, as (country, region, city).
fn covering(feed: &Geofeed, addr: IpAddr) -> Vec<(String, String, String)> {
    feed.rows
        .iter()
        .filter(|r| r.prefix.contains(&addr))
        .map(|r| (r.country.clone(), r.region.clone(), r.city.clone()))
        .collect()
}

/// Every egress prefix of the configuration with the (country, region, city) it should have.
fn expected(config: &Config, with_byoip: bool) -> Vec<(IpNet, (String, String, String))> {
    let place = |code: &str| {
        let l = config.location(code).expect("declared location");
        (l.country.clone(), l.region.clone(), l.city.clone())
    };
    let mut out = Vec::new();
    for account in &config.accounts {
        for ip in &account.dedicated_ips {
            if ip.source == IpSource::Byoip && !with_byoip {
                continue;
            }
            out.push((IpNet::from(IpAddr::V4(ip.ipv4)), place(&ip.location.0)));
            out.push((IpNet::V6(ip.ipv6), place(&ip.location.0)));
        }
    }
    for l in &config.locations {
        out.push((IpNet::V4(l.default_egress.ipv4), place(&l.code.0)));
        if let Some(v6) = l.default_egress.ipv6 {
            out.push((IpNet::V6(v6), place(&l.code.0)));
        }
    }
    out
}

/// Every published prefix is covered, at its first and last address, by exactly one row that
/// names its location; and every row covers only published addresses.
fn assert_feed_matches(config: &Config, feed: &Geofeed, with_byoip: bool) {
    let want = expected(config, with_byoip);
    for (prefix, place) in &want {
        for addr in [prefix.network(), prefix.broadcast()] {
            assert_eq!(
                covering(feed, addr),
                vec![place.clone()],
                "{addr} of {prefix}"
            );
        }
    }
    for row in &feed.rows {
        for addr in [row.prefix.network(), row.prefix.broadcast()] {
            assert!(
                want.iter().any(|(p, _)| p.contains(&addr)),
                "row {} publishes {addr}, which is no egress address",
                row.prefix
            );
        }
    }
}

#[test]
fn every_egress_prefix_is_published_with_its_location() {
    let config = example(None);
    let feed = geofeed(&config);
    assert_feed_matches(&config, &feed, false);
    // 3 leased IPv4 + 3 leased /64 of acme, 1 + 1 leased of globex, 3 + 3 default ranges.
    assert_eq!(feed.rows.len(), 14, "{}", feed.to_csv());
    let lax = covering(&feed, "203.0.113.10".parse().expect("ip"));
    assert_eq!(
        lax,
        vec![("US".into(), "US-CA".into(), "Los Angeles".into())]
    );
}

#[test]
fn byoip_prefixes_are_left_out_unless_the_operator_opts_in() {
    let config = example(None);
    let byoip: IpAddr = "192.0.2.10".parse().expect("ip");
    let byoip6: IpAddr = "2001:db8:beef:10::1".parse().expect("ip");
    let feed = geofeed(&config);
    assert!(covering(&feed, byoip).is_empty());
    assert!(covering(&feed, byoip6).is_empty());

    let config = example(Some((
        "[deployment]\n",
        "[deployment]\ngeofeed_include_byoip = true\n",
    )));
    let feed = geofeed(&config);
    assert_feed_matches(&config, &feed, true);
    let nyc = vec![("US".into(), "US-NY".into(), "New York".into())];
    assert_eq!(covering(&feed, byoip), nyc);
    assert_eq!(covering(&feed, byoip6), nyc);
}

#[test]
fn adjacent_dedicated_ips_in_one_location_are_published_as_one_prefix() {
    // globex's fra IPv4 moves next to acme's: 203.0.113.30 and .31 are one /31 in fra.
    let config = example(Some(("203.0.113.40", "203.0.113.31")));
    let feed = geofeed(&config);
    assert_feed_matches(&config, &feed, false);
    let slash31: IpNet = "203.0.113.30/31".parse().expect("net");
    let row = feed
        .rows
        .iter()
        .find(|r| r.prefix == slash31)
        .unwrap_or_else(|| panic!("no /31 row in\n{}", feed.to_csv()));
    assert_eq!(row.city, "Frankfurt am Main");
    assert_eq!(feed.rows.len(), 13, "{}", feed.to_csv());
}

#[test]
fn the_csv_has_five_fields_per_row_and_an_empty_postal_code() {
    let feed = geofeed(&example(None));
    let csv = feed.to_csv();
    let rows: Vec<&str> = csv.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rows.len(), feed.rows.len());
    for (line, row) in rows.iter().zip(&feed.rows) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 5, "{line}");
        assert_eq!(fields[0].parse::<IpNet>().ok(), Some(row.prefix), "{line}");
        assert_eq!(fields[1], row.country);
        assert_eq!(fields[2], row.region);
        assert_eq!(fields[3], row.city);
        assert_eq!(fields[4], "", "postal codes are deprecated: {line}");
    }
    assert!(csv.ends_with('\n'));
}
