//! What a connection looks like to an expression.

use std::net::IpAddr;

use crate::field::Field;

/// The values of the fields for one connection. A field that is `None` (or, for groups, an empty
/// slice) is absent: every comparison on it is false.
#[derive(Clone, Copy, Debug, Default)]
pub struct Subject<'a> {
    /// `net.src.ip`
    pub src_ip: Option<IpAddr>,
    /// `net.src.port`
    pub src_port: Option<u16>,
    /// `net.src.internal_src_ip`
    pub internal_src_ip: Option<IpAddr>,
    /// `net.dst.ip`
    pub dst_ip: Option<IpAddr>,
    /// `net.dst.port`
    pub dst_port: Option<u16>,
    /// `net.protocol`: `"tcp"` or `"udp"`.
    pub protocol: Option<&'a str>,
    /// `net.fqdn.host` and `net.fqdn.domains`: lowercase, without a trailing dot.
    pub fqdn_host: Option<&'a str>,
    /// `net.proxy_endpoint`
    pub proxy_endpoint: Option<&'a str>,
    /// `net.dst.geo.country`
    pub dst_geo_country: Option<&'a str>,
    /// `net.dst.geo.continent`
    pub dst_geo_continent: Option<&'a str>,
    /// `net.src.geo.country`
    pub src_geo_country: Option<&'a str>,
    /// `net.src.geo.continent`
    pub src_geo_continent: Option<&'a str>,
    /// `identity.email`: lowercase.
    pub identity_email: Option<&'a str>,
    /// `identity.name`
    pub identity_name: Option<&'a str>,
    /// `identity.groups.name`: empty when unknown.
    pub identity_groups: &'a [String],
}

impl<'a> Subject<'a> {
    /// The value of an IP field, IPv4-mapped IPv6 addresses as IPv4.
    pub(crate) fn ip(&self, field: Field) -> Option<IpAddr> {
        let ip = match field {
            Field::SrcIp => self.src_ip,
            Field::DstIp => self.dst_ip,
            Field::InternalSrcIp => self.internal_src_ip,
            _ => None,
        };
        ip.map(|ip| ip.to_canonical())
    }

    pub(crate) fn port(&self, field: Field) -> Option<u16> {
        match field {
            Field::SrcPort => self.src_port,
            Field::DstPort => self.dst_port,
            _ => None,
        }
    }

    /// The value of a string field; `net.fqdn.domains` reads the host.
    pub(crate) fn str(&self, field: Field) -> Option<&'a str> {
        match field {
            Field::Protocol => self.protocol,
            Field::FqdnHost | Field::FqdnDomains => self.fqdn_host,
            Field::ProxyEndpoint => self.proxy_endpoint,
            Field::DstGeoCountry => self.dst_geo_country,
            Field::DstGeoContinent => self.dst_geo_continent,
            Field::SrcGeoCountry => self.src_geo_country,
            Field::SrcGeoContinent => self.src_geo_continent,
            Field::IdentityEmail => self.identity_email,
            Field::IdentityName => self.identity_name,
            _ => None,
        }
    }
}
