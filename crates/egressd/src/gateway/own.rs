//! The node's own addresses: a client must not use the gateway to reach the gateway itself
//! (its listeners, its interfaces, or the egress ranges routed to it).

use std::net::IpAddr;

use egress_model::Config;
use ipnet::IpNet;

/// Interface addresses plus every egress range of the configuration.
pub fn own_addresses(config: &Config) -> Vec<IpNet> {
    let mut out: Vec<IpNet> = Vec::new();
    if let Ok(ifaddrs) = nix::ifaddrs::getifaddrs() {
        for ifa in ifaddrs {
            let Some(addr) = ifa.address else { continue };
            if let Some(v4) = addr.as_sockaddr_in() {
                out.push(IpNet::from(IpAddr::V4(v4.ip())));
            } else if let Some(v6) = addr.as_sockaddr_in6() {
                out.push(IpNet::from(IpAddr::V6(v6.ip())));
            }
        }
    }
    for loc in &config.locations {
        out.push(loc.default_egress.ipv4.into());
        out.extend(loc.default_egress.ipv6.map(IpNet::from));
    }
    for account in &config.accounts {
        for ip in &account.dedicated_ips {
            out.push(IpNet::from(IpAddr::V4(ip.ipv4)));
            out.push(ip.ipv6.into());
        }
    }
    out
}

/// Whether `ip` is one of them.
pub fn is_own(own: &[IpNet], ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    own.iter().any(|n| n.contains(&ip))
}
