//! What a client asked for (the intent) and what the core decided (the plan).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use egress_model::{ClientAddr, EgressAddr, LocationCode, TargetAddr};
use serde::Serialize;

/// Transport of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP (HTTP/3 among others).
    Udp,
    /// ICMP (echo and the like).
    Icmp,
}

impl Transport {
    /// `net.protocol` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Icmp => "icmp",
        }
    }
}

/// Country and continent of an address, as the edge looked them up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Geo<'a> {
    /// ISO 3166-1 alpha-2.
    pub country: Option<&'a str>,
    /// Two-letter continent code (`EU`, `NA`, …).
    pub continent: Option<&'a str>,
}

/// What a client asked for.
#[derive(Debug, Clone, Copy)]
pub struct Intent<'a> {
    /// Account the on-ramp authorised the client for.
    pub account: &'a str,
    /// User name, when the client authenticated as a user.
    pub user: Option<&'a str>,
    /// Where the client connected from.
    pub client: ClientAddr,
    /// The client's address inside its own network, when a device client reports it.
    pub internal_src_ip: Option<IpAddr>,
    /// Proxy endpoint name the client used.
    pub proxy_endpoint: Option<&'a str>,
    /// Host and port asked for.
    pub target: &'a TargetAddr,
    /// The destination address: the target's own address, or one a name resolved to. Without it
    /// a name target gets a plan for both families and `net.dst.ip` matches nothing.
    pub dst_ip: Option<IpAddr>,
    /// Transport.
    pub transport: Transport,
    /// The location the client connected to (the node's own location).
    pub location: &'a str,
    /// Geolocation of the client.
    pub src_geo: Geo<'a>,
    /// Geolocation of the destination.
    pub dst_geo: Geo<'a>,
}

/// The policy that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedPolicy {
    /// Stable id.
    pub id: std::sync::Arc<str>,
    /// Name.
    pub name: std::sync::Arc<str>,
    /// Precedence.
    pub precedence: u32,
}

/// Dedicated or shared source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EgressKind {
    /// The location's shared default range.
    Default,
    /// A dedicated egress IP of the account.
    Dedicated,
}

/// Which fallback, if any, the route took (DESIGN rule 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackUsed {
    /// The primary choice.
    None,
    /// The policy's `ipv4_fallback`, because the primary's location is down.
    Ipv4Fallback,
    /// The default range at the closest healthy location.
    DefaultRange,
}

/// How one address family leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// Source address to bind.
    pub source: EgressAddr,
    /// Dedicated or default.
    pub kind: EgressKind,
    /// Where the packets physically leave.
    pub egress_location: LocationCode,
    /// Where the source address geolocates.
    pub egress_ip_location: LocationCode,
    /// True when `egress_location` is not the ingress location: the node forwards.
    pub forwarded: bool,
    /// On-net destination: the dedicated IPv4 to put in a PROXY v2 header.
    pub proxy_protocol_source: Option<Ipv4Addr>,
    /// Fallback taken.
    pub fallback: FallbackUsed,
}

/// Why the plan is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A policy matched.
    PolicyMatched,
    /// No policy matched: the closest dedicated location.
    ClosestDedicated,
    /// No policy matched and the account has no dedicated IP.
    NoDedicatedIps,
    /// Traffic settings turn the proxy off.
    ProxyOff,
    /// A destination in a private network.
    PrivateNetwork,
    /// ICMP never uses a dedicated IP.
    Icmp,
    /// The gateway's own DNS resolution.
    GatewayDns,
}

/// Why a connection is refused; the `code` is the log's close reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Refusal {
    /// Not an account of this deployment.
    UnknownAccount,
    /// The user is not in the account.
    UnknownUser,
    /// Unknown ingress location.
    UnknownLocation,
    /// TCP is turned off for the account.
    TcpDisabled,
    /// UDP is turned off for the account.
    UdpDisabled,
    /// Loopback, link-local, private or otherwise forbidden destination.
    ForbiddenDestination,
    /// The chosen location has no source for this address family.
    NoSourceForFamily,
}

impl Refusal {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownAccount => "unknown_account",
            Refusal::UnknownUser => "unknown_user",
            Refusal::UnknownLocation => "unknown_location",
            Refusal::TcpDisabled => "tcp_disabled",
            Refusal::UdpDisabled => "udp_disabled",
            Refusal::ForbiddenDestination => "forbidden_destination",
            Refusal::NoSourceForFamily => "no_source_for_family",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The decision for one intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Why.
    pub reason: Reason,
    /// The policy that decided, if one did.
    pub policy: Option<MatchedPolicy>,
    /// Dedicated or default, as the policy (or rule 2) asked.
    pub method: EgressKind,
    /// Where the client connected.
    pub ingress_location: LocationCode,
    /// Route for an IPv4 destination (absent when the destination is IPv6).
    pub ipv4: Option<Route>,
    /// Route for an IPv6 destination (absent when the destination is IPv4).
    pub ipv6: Option<Route>,
    /// Port budget per egress address and destination.
    pub max_connections_per_destination: u32,
}

impl Plan {
    /// The route for a destination address's family.
    pub fn route_for(&self, dst: IpAddr) -> Option<&Route> {
        match dst {
            IpAddr::V4(_) => self.ipv4.as_ref(),
            IpAddr::V6(_) => self.ipv6.as_ref(),
        }
    }
}
