//! Validation: every rule a configuration must satisfy, reported all at once.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv6Net};

use crate::config::{Account, Authorization, Config, DedicatedIp, EgressMethod, IpSource, Policy};

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

struct Report<'a> {
    origin: &'a str,
    errors: Vec<ValidationError>,
}

impl Report<'_> {
    fn push(&mut self, path: impl Into<String>, rule: Rule, message: impl Into<String>) {
        self.errors.push(ValidationError {
            origin: self.origin.to_string(),
            path: path.into(),
            rule,
            message: message.into(),
        });
    }
}

/// Where each dedicated address is held: account index and the entry.
struct Holdings<'c> {
    ipv4: HashMap<Ipv4Addr, (&'c str, &'c DedicatedIp)>,
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

    /// Rules 11 and 12 and the prefix rules for every account's dedicated IPs.
    fn check_dedicated_ips(&self, r: &mut Report<'_>) -> Holdings<'_> {
        let mut ipv4: HashMap<Ipv4Addr, (&str, &DedicatedIp)> = HashMap::new();
        let mut ipv6: HashMap<Ipv6Net, &str> = HashMap::new();
        for account in &self.accounts {
            let acc = account.id.as_str();
            for ip in &account.dedicated_ips {
                let path = format!("accounts[{acc:?}].dedicated_ips[{}]", ip.ipv4);
                if let Some((holder, _)) = ipv4.get(&ip.ipv4) {
                    let whose = if *holder == acc {
                        "this account already holds it".to_string()
                    } else {
                        format!("it belongs to account {holder}")
                    };
                    r.push(
                        format!("{path}.ipv4"),
                        Rule::IpOwnership,
                        format!("{} is declared twice: {whose}", ip.ipv4),
                    );
                } else {
                    ipv4.insert(ip.ipv4, (acc, ip));
                }
                if ip.ipv6.prefix_len() != 64 || ip.ipv6.trunc() != ip.ipv6 {
                    r.push(
                        format!("{path}.ipv6"),
                        Rule::Ipv6NotSlash64,
                        format!("{} must be a /64 network like 2001:db8:1:2::/64", ip.ipv6),
                    );
                }
                if let Some(holder) = ipv6.insert(ip.ipv6, acc) {
                    r.push(
                        format!("{path}.ipv6"),
                        Rule::IpOwnership,
                        format!("{} is already held by account {holder}", ip.ipv6),
                    );
                }
                let Some(location) = self.location(&ip.location.0) else {
                    r.push(
                        format!("{path}.location"),
                        Rule::UnknownLocation,
                        format!("no location has code {}", ip.location),
                    );
                    continue;
                };
                let _ = location;
                let (prefixes, what): (Vec<IpNet>, &str) = match ip.source {
                    IpSource::Leased => (
                        self.address_pools.iter().map(|p| p.prefix).collect(),
                        "any address pool",
                    ),
                    IpSource::Byoip => (
                        account.byoip_prefixes.clone(),
                        "the account's byoip_prefixes",
                    ),
                };
                for addr in [IpAddr::V4(ip.ipv4), IpAddr::V6(ip.ipv6.network())] {
                    let inside = prefixes.iter().any(|p| {
                        p.contains(&addr)
                            && (addr.is_ipv4() || p.prefix_len() <= ip.ipv6.prefix_len())
                    });
                    if !inside {
                        let field = if addr.is_ipv4() { "ipv4" } else { "ipv6" };
                        let shown = if addr.is_ipv4() {
                            addr.to_string()
                        } else {
                            ip.ipv6.to_string()
                        };
                        r.push(
                            format!("{path}.{field}"),
                            Rule::OutsideDeclaredPrefix,
                            format!(
                                "{shown} ({}) is not inside {what}",
                                match ip.source {
                                    IpSource::Leased => "leased",
                                    IpSource::Byoip => "byoip",
                                }
                            ),
                        );
                    }
                }
                for loc in &self.locations {
                    let d = &loc.default_egress;
                    if d.ipv4.contains(&ip.ipv4)
                        || d.ipv6
                            .is_some_and(|n| nets_overlap(n.into(), ip.ipv6.into()))
                    {
                        r.push(
                            &path,
                            Rule::Overlap,
                            format!("overlaps the default range of location {}", loc.code),
                        );
                    }
                }
            }
            self.check_resilience(account, r);
        }
        Holdings { ipv4 }
    }

    /// DESIGN rule 11: at least two dedicated IPs in two different cities.
    fn check_resilience(&self, account: &Account, r: &mut Report<'_>) {
        if account.dedicated_ips.is_empty() || self.deployment.single_location {
            return;
        }
        let cities: HashSet<(&str, &str)> = account
            .dedicated_ips
            .iter()
            .filter_map(|ip| self.location(&ip.location.0))
            .map(|l| (l.country.as_str(), l.city.as_str()))
            .collect();
        if account.dedicated_ips.len() < 2 || cities.len() < 2 {
            r.push(
                format!("accounts[{:?}].dedicated_ips", account.id.as_str()),
                Rule::TooFewDedicatedIps,
                format!(
                    "an account needs at least two dedicated IPs in two different cities so that \
                     one location going down does not take its traffic off its allowlisted \
                     addresses (has {} in {} cities); declare deployment.single_location = true \
                     for a one-location deployment",
                    account.dedicated_ips.len(),
                    cities.len()
                ),
            );
        }
    }

    fn check_account(
        &self,
        account: &Account,
        path: &str,
        holdings: &Holdings<'_>,
        r: &mut Report<'_>,
    ) {
        let groups: HashSet<&str> = account.groups.iter().map(String::as_str).collect();
        if groups.len() != account.groups.len() {
            r.push(
                format!("{path}.groups"),
                Rule::Duplicate,
                "a group is declared twice",
            );
        }
        let mut users = HashSet::new();
        for user in &account.users {
            let upath = format!("{path}.users[{:?}]", user.name);
            if !users.insert(&user.name) {
                r.push(
                    &upath,
                    Rule::Duplicate,
                    format!("user {} is declared twice", user.name),
                );
            }
            for g in &user.groups {
                if !groups.contains(g.as_str()) {
                    r.push(
                        format!("{upath}.groups"),
                        Rule::UnknownGroup,
                        format!("group {g:?} is not declared in the account's groups"),
                    );
                }
            }
        }
        let mut endpoints = HashSet::new();
        for ep in &account.proxy_endpoints {
            let epath = format!("{path}.proxy_endpoints[{:?}]", ep.name);
            if !endpoints.insert(&ep.name) {
                r.push(
                    &epath,
                    Rule::Duplicate,
                    format!("endpoint {} is declared twice", ep.name),
                );
            }
            if let Authorization::SourcePrefixes(p) = &ep.authorization {
                if p.is_empty() {
                    r.push(
                        format!("{epath}.authorization"),
                        Rule::BadProxyEndpoint,
                        "source_prefixes must list at least one prefix",
                    );
                }
            }
        }
        let mut precedences = HashMap::new();
        let mut names = HashSet::new();
        for policy in &account.policies {
            let ppath = format!("{path}.policies[{:?}]", policy.name);
            if let Some(other) = precedences.insert(policy.precedence, &policy.name) {
                r.push(
                    format!("{ppath}.precedence"),
                    Rule::DuplicatePrecedence,
                    format!(
                        "precedence {} is already used by policy {other:?}",
                        policy.precedence
                    ),
                );
            }
            if !names.insert(policy.policy_id()) {
                r.push(
                    &ppath,
                    Rule::Duplicate,
                    format!("policy id {:?} is used twice", policy.policy_id()),
                );
            }
            check_expressions(policy, &ppath, r);
            self.check_method(account, policy, &ppath, holdings, r);
        }
    }

    fn check_method(
        &self,
        account: &Account,
        policy: &Policy,
        path: &str,
        holdings: &Holdings<'_>,
        r: &mut Report<'_>,
    ) {
        let EgressMethod::Dedicated {
            ipv4,
            ipv6,
            ipv4_fallback,
        } = &policy.method
        else {
            return;
        };
        let own = |ip: &Ipv4Addr, field: &str, r: &mut Report<'_>| -> Option<&DedicatedIp> {
            match holdings.ipv4.get(ip) {
                Some((holder, entry)) if *holder == account.id.as_str() => Some(*entry),
                Some((holder, _)) => {
                    r.push(
                        format!("{path}.method.{field}"),
                        Rule::IpOwnership,
                        format!("{ip} belongs to account {holder}, not to {}", account.id),
                    );
                    None
                }
                None => {
                    r.push(
                        format!("{path}.method.{field}"),
                        Rule::UnknownDedicatedIp,
                        format!("{ip} is not one of the account's dedicated IPs"),
                    );
                    None
                }
            }
        };
        let primary = own(ipv4, "ipv4", r);
        if let Some(net) = ipv6 {
            if !account.dedicated_ips.iter().any(|d| d.ipv6 == *net) {
                r.push(
                    format!("{path}.method.ipv6"),
                    Rule::UnknownDedicatedIp,
                    format!("{net} is not one of the account's dedicated IPv6 ranges"),
                );
            }
        }
        match ipv4_fallback {
            None => r.push(
                format!("{path}.method.ipv4_fallback"),
                Rule::FallbackRequired,
                "a dedicated method must name ipv4_fallback: another of the account's IPv4s in \
                 a different location, or 0.0.0.0 for the default range at the closest location",
            ),
            Some(fallback) if fallback.is_unspecified() => {}
            Some(fallback) => {
                if let (Some(p), Some(f)) = (primary, own(fallback, "ipv4_fallback", r)) {
                    if p.location == f.location {
                        r.push(
                            format!("{path}.method.ipv4_fallback"),
                            Rule::FallbackSameLocation,
                            format!(
                                "{fallback} is in {}, the same location as the primary {ipv4}; \
                                 choose an IPv4 in another location or 0.0.0.0",
                                f.location
                            ),
                        );
                    }
                }
            }
        }
    }

    /// Endpoints sharing a listening address: one protocol per address, and no source-prefix
    /// endpoint beside another account's endpoint (it would take that account's clients).
    fn check_listeners(&self, r: &mut Report<'_>) {
        let mut by_listen: HashMap<
            std::net::SocketAddr,
            Vec<(&Account, &crate::config::ProxyEndpoint)>,
        > = HashMap::new();
        for account in &self.accounts {
            for ep in &account.proxy_endpoints {
                by_listen.entry(ep.listen).or_default().push((account, ep));
            }
        }
        for (listen, endpoints) in &by_listen {
            for (i, (account, ep)) in endpoints.iter().enumerate() {
                let path = format!(
                    "accounts[{:?}].proxy_endpoints[{:?}]",
                    account.id.as_str(),
                    ep.name
                );
                for (other_account, other) in &endpoints[..i] {
                    if other.protocol != ep.protocol {
                        r.push(
                            format!("{path}.listen"),
                            Rule::BadProxyEndpoint,
                            format!(
                                "{listen} already serves {:?} for endpoint {:?} of account {}; one \
                                 listening address speaks one protocol",
                                other.protocol, other.name, other_account.id
                            ),
                        );
                    }
                    let source_prefixes = |e: &crate::config::ProxyEndpoint| {
                        matches!(e.authorization, Authorization::SourcePrefixes(_))
                    };
                    if other_account.id != account.id
                        && (source_prefixes(ep) || source_prefixes(other))
                    {
                        r.push(
                            format!("{path}.listen"),
                            Rule::BadProxyEndpoint,
                            format!(
                                "{listen} is also used by endpoint {:?} of account {}: accounts \
                                 share a listening address only when every endpoint on it asks \
                                 for credentials (a source-prefix endpoint would take the other \
                                 account's clients)",
                                other.name, other_account.id
                            ),
                        );
                    }
                }
            }
        }
    }

    /// The location with this code.
    pub fn location(&self, code: &str) -> Option<&crate::config::Location> {
        self.locations.iter().find(|l| l.code.0 == code)
    }
}

fn check_expressions(policy: &Policy, path: &str, r: &mut Report<'_>) {
    for (field_name, text, want_identity) in [
        ("traffic", &policy.traffic, false),
        ("identity", &policy.identity, true),
    ] {
        match egress_expr::parse(text) {
            Err(e) => r.push(
                format!("{path}.{field_name}"),
                Rule::Expression,
                format!("column {}: {}", e.column, e.message),
            ),
            Ok(expr) => {
                for field in expr.fields() {
                    if field.is_identity() != want_identity {
                        let hint = if want_identity { "traffic" } else { "identity" };
                        r.push(
                            format!("{path}.{field_name}"),
                            Rule::WrongFieldKind,
                            format!(
                                "{} belongs in the {hint} expression, not the {field_name} one",
                                field.name()
                            ),
                        );
                    }
                }
            }
        }
    }
}

fn nets_overlap(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}
