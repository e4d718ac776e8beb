//! The RFC 8805 geofeed: one CSV row per aggregated egress prefix with where it geolocates.

use std::fmt;

use egress_model::{Config, IpSource, Location};
use ipnet::IpNet;

use crate::aggregate::aggregate;
use crate::egress::{egress_prefixes, EgressRole};

/// The media type of a geofeed, as RFC 8805 feeds are served.
pub const GEOFEED_MEDIA_TYPE: &str = "application/geofeed+csv";

/// One line of the feed: `prefix,country,region,city,postal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeofeedRow {
    /// The prefix.
    pub prefix: IpNet,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// ISO 3166-2 subdivision (`US-CA`).
    pub region: String,
    /// City name.
    pub city: String,
    /// The location it belongs to (not published; for callers and tests).
    pub location: String,
}

/// The whole feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geofeed {
    /// Rows, IPv4 first, each family by address.
    pub rows: Vec<GeofeedRow>,
}

/// The geofeed of a configuration: every dedicated IPv4 (/32) and IPv6 /64 with its location,
/// and every location's default ranges, merged where adjacent prefixes share a location. BYOIP
/// dedicated IPs are left out unless `deployment.geofeed_include_byoip` is set.
pub fn geofeed(config: &Config) -> Geofeed {
    let include_byoip = config.deployment.geofeed_include_byoip;
    let published = egress_prefixes(config)
        .into_iter()
        .filter(|p| match p.role {
            EgressRole::Dedicated { source, .. } => source != IpSource::Byoip || include_byoip,
            EgressRole::Default => true,
        });
    let rows = aggregate(published.map(|p| (p.prefix, &p.location.code.0)))
        .into_iter()
        .filter_map(|(prefix, code)| {
            let location: &Location = config.location(code)?;
            Some(GeofeedRow {
                prefix,
                country: location.country.clone(),
                region: location.region.clone(),
                city: location.city.clone(),
                location: code.to_string(),
            })
        })
        .collect();
    Geofeed { rows }
}

impl Geofeed {
    /// The CSV text: a comment line, then one row per prefix, each ending in a newline.
    pub fn to_csv(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Geofeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "# RFC 8805 geofeed of egressd egress prefixes: prefix,country,region,city,postal"
        )?;
        for row in &self.rows {
            // Postal codes are deprecated by RFC 8805 §2.1.1.5: always empty.
            writeln!(
                f,
                "{},{},{},{},",
                row.prefix,
                field(&row.country),
                field(&row.region),
                field(&row.city)
            )?;
        }
        Ok(())
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    if !text.contains([',', '"', '\n', '\r']) {
        return text.to_string();
    }
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        if c == '"' {
            quoted.push('"');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(field("Los Angeles"), "Los Angeles");
        assert_eq!(field("Washington, D.C."), "\"Washington, D.C.\"");
        assert_eq!(field("a\"b"), "\"a\"\"b\"");
    }
}
