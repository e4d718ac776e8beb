//! Every prefix egress traffic leaves from, with the location it geolocates in.

use std::net::Ipv4Addr;

use egress_model::{Config, IpSource, IpStatus, Location};
use ipnet::{IpNet, Ipv4Net};

/// What a prefix is used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressRole {
    /// Half of an account's dedicated IP: its IPv4 (/32) or its IPv6 /64.
    Dedicated {
        /// The owning account.
        account: String,
        /// The IPv4 that names the dedicated IP.
        ipv4: Ipv4Addr,
        /// Leased or BYOIP.
        source: IpSource,
        /// Active or draining.
        status: IpStatus,
    },
    /// A location's shared default range.
    Default,
}

/// One egress prefix and the location it geolocates in (DESIGN rule 6).
#[derive(Debug, Clone, PartialEq)]
pub struct EgressPrefix<'c> {
    /// The prefix: a /32, a /64, or a default range.
    pub prefix: IpNet,
    /// Where databases should place it.
    pub location: &'c Location,
    /// Dedicated or default.
    pub role: EgressRole,
}

/// Every dedicated IPv4 and /64 of every account, then every location's default ranges.
/// Dedicated IPs whose location is not declared are left out (validation refuses them).
pub fn egress_prefixes(config: &Config) -> Vec<EgressPrefix<'_>> {
    let mut out = Vec::new();
    for account in &config.accounts {
        for ip in &account.dedicated_ips {
            let Some(location) = config.location(&ip.location.0) else {
                continue;
            };
            let role = EgressRole::Dedicated {
                account: account.id.0.clone(),
                ipv4: ip.ipv4,
                source: ip.source,
                status: ip.status,
            };
            out.push(EgressPrefix {
                prefix: IpNet::V4(Ipv4Net::from(ip.ipv4)),
                location,
                role: role.clone(),
            });
            out.push(EgressPrefix {
                prefix: IpNet::V6(ip.ipv6.trunc()),
                location,
                role,
            });
        }
    }
    for location in &config.locations {
        let ranges = std::iter::once(IpNet::V4(location.default_egress.ipv4.trunc()))
            .chain(location.default_egress.ipv6.map(|n| IpNet::V6(n.trunc())));
        for prefix in ranges {
            out.push(EgressPrefix {
                prefix,
                location,
                role: EgressRole::Default,
            });
        }
    }
    out
}
