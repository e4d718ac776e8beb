//! Validation: every rule a configuration must satisfy, reported all at once.
//!
//! This file holds the rules of the deployment, locations and nodes; `addresses` those of
//! dedicated IPs (rules 11 and 12), `accounts` those of users, endpoints and policies.

mod accounts;
mod addresses;

use std::collections::{HashMap, HashSet};
use std::fmt;

use ipnet::IpNet;

use crate::config::Config;

/// The rule a configuration item breaks. Its code is stable and appears in API errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Two items share a key that must be unique.
    Duplicate,
    /// A location code that no location declares.
    UnknownLocation,
    /// A group that the account does not declare.
    UnknownGroup,
    /// Latitude, longitude, country or region out of form.
    BadLocation,
    /// Two locations use the same IPv6 slice index.
    DuplicateIpv6Slice,
    /// Default ranges or dedicated IPs overlap.
    Overlap,
    /// A dedicated IPv6 range that is not a /64.
    Ipv6NotSlash64,
    /// A dedicated IP outside the pool or BYOIP prefix it claims to come from.
    OutsideDeclaredPrefix,
    /// An IP held twice, or held by another account (DESIGN rule 12).
    IpOwnership,
    /// Fewer than two dedicated IPs in two cities (DESIGN rule 11).
    TooFewDedicatedIps,
    /// `single_location` declared with several locations.
    NotSingleLocation,
    /// Two policies with the same precedence.
    DuplicatePrecedence,
    /// An expression that does not parse or type-check.
    Expression,
    /// A traffic expression using identity fields or the reverse.
    WrongFieldKind,
    /// A dedicated method without `ipv4_fallback` (DESIGN rule 3).
    FallbackRequired,
    /// A fallback in the same location as the primary (DESIGN rule 3).
    FallbackSameLocation,
    /// A policy naming an address the account does not hold.
    UnknownDedicatedIp,
    /// A proxy endpoint that cannot be served.
    BadProxyEndpoint,
    /// A deployment-wide setting out of range.
    BadSetting,
}

impl Rule {
    /// Stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Rule::Duplicate => "duplicate",
            Rule::UnknownLocation => "unknown_location",
            Rule::UnknownGroup => "unknown_group",
            Rule::BadLocation => "bad_location",
            Rule::DuplicateIpv6Slice => "duplicate_ipv6_slice",
            Rule::Overlap => "overlap",
            Rule::Ipv6NotSlash64 => "ipv6_not_slash64",
            Rule::OutsideDeclaredPrefix => "outside_declared_prefix",
            Rule::IpOwnership => "ip_ownership",
            Rule::TooFewDedicatedIps => "too_few_dedicated_ips",
            Rule::NotSingleLocation => "not_single_location",
            Rule::DuplicatePrecedence => "duplicate_precedence",
            Rule::Expression => "expression",
            Rule::WrongFieldKind => "wrong_field_kind",
            Rule::FallbackRequired => "fallback_required",
            Rule::FallbackSameLocation => "fallback_same_location",
            Rule::UnknownDedicatedIp => "unknown_dedicated_ip",
            Rule::BadProxyEndpoint => "bad_proxy_endpoint",
            Rule::BadSetting => "bad_setting",
        }
    }
}

/// One broken rule: where (file and item path), which rule, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The file (or other origin) of the configuration.
    pub origin: String,
    /// Path of the item, such as `accounts["acme"].policies["bank"].method.ipv4_fallback`.
    pub path: String,
    /// The rule broken.
    pub rule: Rule,
    /// A sentence saying what is wrong and what would be right.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {} [{}]",
            self.origin,
            self.path,
            self.message,
            self.rule.code()
        )
    }
}

impl std::error::Error for ValidationError {}

pub(super) struct Report<'a> {
    origin: &'a str,
    errors: Vec<ValidationError>,
}

impl Report<'_> {
    pub(super) fn push(&mut self, path: impl Into<String>, rule: Rule, message: impl Into<String>) {
        self.errors.push(ValidationError {
            origin: self.origin.to_string(),
            path: path.into(),
            rule,
            message: message.into(),
        });
    }
}

impl Config {
    /// Checks every rule; returns all problems found (empty when valid).
    pub fn validate(&self, origin: &str) -> Vec<ValidationError> {
        let mut r = Report {
            origin,
            errors: Vec::new(),
        };
        self.check_deployment(&mut r);
        self.check_locations(&mut r);
        self.check_nodes(&mut r);
        let holdings = self.check_dedicated_ips(&mut r);
        self.check_listeners(&mut r);
        let mut account_ids = HashSet::new();
        for account in &self.accounts {
            let path = format!("accounts[{:?}]", account.id.as_str());
            if !account_ids.insert(&account.id) {
                r.push(
                    &path,
                    Rule::Duplicate,
                    format!("account id {} is used twice", account.id),
                );
            }
            self.check_account(account, &path, &holdings, &mut r);
        }
        r.errors
    }

    fn check_deployment(&self, r: &mut Report<'_>) {
        let d = &self.deployment;
        for (key, value) in [
            (
                "max_connections_per_destination",
                d.max_connections_per_destination,
            ),
            ("max_sessions_per_user", d.max_sessions_per_user),
            ("max_sessions_per_account", d.max_sessions_per_account),
        ] {
            if value == 0 {
                r.push(
                    format!("deployment.{key}"),
                    Rule::BadSetting,
                    "must be at least 1",
                );
            }
        }
        if self.deployment.single_location && self.locations.len() > 1 {
            r.push(
                "deployment.single_location",
                Rule::NotSingleLocation,
                format!(
                    "declared single-location but {} locations are configured",
                    self.locations.len()
                ),
            );
        }
    }

    fn check_locations(&self, r: &mut Report<'_>) {
        if self.locations.is_empty() {
            r.push(
                "locations",
                Rule::BadLocation,
                "at least one location is required",
            );
        }
        let mut codes = HashSet::new();
        let mut slices = HashMap::new();
        for (i, loc) in self.locations.iter().enumerate() {
            let path = format!("locations[{:?}]", loc.code.as_str());
            if !codes.insert(&loc.code) {
                r.push(
                    &path,
                    Rule::Duplicate,
                    format!("location code {} is used twice", loc.code),
                );
            }
            if loc.code.0.is_empty()
                || !loc
                    .code
                    .0
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            {
                r.push(
                    format!("{path}.code"),
                    Rule::BadLocation,
                    "a location code is lowercase letters and digits, like `lax`",
                );
            }
            if !(-90.0..=90.0).contains(&loc.latitude) || !(-180.0..=180.0).contains(&loc.longitude)
            {
                r.push(
                    &path,
                    Rule::BadLocation,
                    "latitude must be within ±90 and longitude within ±180 degrees",
                );
            }
            if loc.country.len() != 2 || !loc.country.chars().all(|c| c.is_ascii_uppercase()) {
                r.push(
                    format!("{path}.country"),
                    Rule::BadLocation,
                    format!(
                        "`{}` is not an ISO 3166-1 alpha-2 code like `US`",
                        loc.country
                    ),
                );
            }
            let region_ok = loc.region.split_once('-').is_some_and(|(cc, sub)| {
                cc == loc.country
                    && (1..=3).contains(&sub.len())
                    && sub
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            });
            if !region_ok {
                r.push(
                    format!("{path}.region"),
                    Rule::BadLocation,
                    format!(
                        "`{}` is not an ISO 3166-2 code of country {} (like `{}-CA`)",
                        loc.region, loc.country, loc.country
                    ),
                );
            }
            if let Some(other) = slices.insert(loc.ipv6_slice, &loc.code) {
                r.push(
                    format!("{path}.ipv6_slice"),
                    Rule::DuplicateIpv6Slice,
                    format!(
                        "slice {} is already used by location {other}",
                        loc.ipv6_slice
                    ),
                );
            }
            for other in &self.locations[..i] {
                let (a, b) = (&loc.default_egress, &other.default_egress);
                let v6_overlap = match (a.ipv6, b.ipv6) {
                    (Some(x), Some(y)) => nets_overlap(x.into(), y.into()),
                    _ => false,
                };
                if nets_overlap(a.ipv4.into(), b.ipv4.into()) || v6_overlap {
                    r.push(
                        format!("{path}.default_egress"),
                        Rule::Overlap,
                        format!("overlaps the default range of location {}", other.code),
                    );
                }
            }
        }
    }

    fn check_nodes(&self, r: &mut Report<'_>) {
        let mut ids = HashSet::new();
        for node in &self.nodes {
            let path = format!("nodes[{:?}]", node.id);
            if !ids.insert(&node.id) {
                r.push(
                    &path,
                    Rule::Duplicate,
                    format!("node id {} is used twice", node.id),
                );
            }
            if self.location(&node.location.0).is_none() {
                r.push(
                    format!("{path}.location"),
                    Rule::UnknownLocation,
                    format!("no location has code {}", node.location),
                );
            }
        }
    }

    /// The location with this code.
    pub fn location(&self, code: &str) -> Option<&crate::config::Location> {
        self.locations.iter().find(|l| l.code.as_str() == code)
    }
}

pub(super) fn nets_overlap(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}
