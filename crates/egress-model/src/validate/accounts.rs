//! Rules of an account's users, groups, proxy endpoints and policies, and of listeners shared
//! between accounts.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use super::addresses::Holdings;
use super::{Report, Rule};
use crate::config::{
    Account, Authorization, Config, DedicatedIp, EgressMethod, Policy, ProxyEndpoint, ProxyProtocol,
};

impl Config {
    pub(super) fn check_account(
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
            check_endpoint_tls(ep, &epath, r);
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

    /// Endpoints sharing a listening address (and transport: a TCP and a UDP listener may use
    /// the same address and port): one protocol per address, one certificate per QUIC
    /// listener, and no source-prefix endpoint beside another account's endpoint (it would take
    /// that account's clients).
    pub(super) fn check_listeners(&self, r: &mut Report<'_>) {
        let mut by_listen: HashMap<(std::net::SocketAddr, bool), Vec<(&Account, &ProxyEndpoint)>> =
            HashMap::new();
        for account in &self.accounts {
            for ep in &account.proxy_endpoints {
                by_listen
                    .entry((ep.listen, ep.protocol.is_udp()))
                    .or_default()
                    .push((account, ep));
            }
        }
        for ((listen, _), endpoints) in &by_listen {
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
                    if other.protocol == ep.protocol && other.tls != ep.tls {
                        r.push(
                            format!("{path}.tls"),
                            Rule::BadProxyEndpoint,
                            format!(
                                "{listen} already serves endpoint {:?} of account {} with another \
                                 certificate; one QUIC listener presents one certificate and key",
                                other.name, other_account.id
                            ),
                        );
                    }
                    let source_prefixes = |e: &ProxyEndpoint| {
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
}

/// A `masque` endpoint needs a certificate (HTTP/3 is always TLS); the others take none, so a
/// `tls` table there is a mistake, not a setting silently ignored.
fn check_endpoint_tls(ep: &ProxyEndpoint, path: &str, r: &mut Report<'_>) {
    match (&ep.tls, ep.protocol) {
        (None, ProxyProtocol::Masque) => r.push(
            format!("{path}.tls"),
            Rule::BadProxyEndpoint,
            "a masque endpoint needs tls = { certificate = \"PATH\", key = \"PATH\" } (PEM files)",
        ),
        (Some(_), ProxyProtocol::Http | ProxyProtocol::Socks5) => r.push(
            format!("{path}.tls"),
            Rule::BadProxyEndpoint,
            format!(
                "only masque endpoints take tls; {} listens without TLS",
                ep.protocol.as_str()
            ),
        ),
        (Some(tls), ProxyProtocol::Masque) => {
            for (field, file) in [("certificate", &tls.certificate), ("key", &tls.key)] {
                if file.as_os_str().is_empty() {
                    r.push(
                        format!("{path}.tls.{field}"),
                        Rule::BadProxyEndpoint,
                        format!("tls.{field} names no file"),
                    );
                }
            }
        }
        (None, _) => {}
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
