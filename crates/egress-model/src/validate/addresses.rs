//! Rules of dedicated IPs: ownership (DESIGN rule 12), prefixes, and resilience (rule 11).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv6Net};

use super::{nets_overlap, Report, Rule};
use crate::config::{Account, Config, DedicatedIp, IpSource};

/// Where each dedicated address is held: account index and the entry.
pub(super) struct Holdings<'c> {
    pub(super) ipv4: HashMap<Ipv4Addr, (&'c str, &'c DedicatedIp)>,
}

impl Config {
    /// Rules 11 and 12 and the prefix rules for every account's dedicated IPs.
    pub(super) fn check_dedicated_ips(&self, r: &mut Report<'_>) -> Holdings<'_> {
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
}
