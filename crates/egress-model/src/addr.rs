//! Newtypes for the roles an address or a name plays, so that one cannot be passed for another.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Short code of a location (data centre), such as `lax`. Shared text: plans and connection
/// records name the same few locations over and over, and cloning a code copies no text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String))]
pub struct LocationCode(pub Arc<str>);

/// Identifier of an account (tenant).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountId(pub String);

/// The address and port a client connected from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientAddr(pub SocketAddr);

/// A source address the gateway sends from: a dedicated IPv4, an address inside a dedicated
/// IPv6 /64, or an address of a location's default range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EgressAddr(pub IpAddr);

/// Host part of what a client asked to reach.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetHost {
    /// A literal address.
    Ip(IpAddr),
    /// A host name, lowercase, without a trailing dot.
    Name(String),
}

/// What a client asked to reach: a host and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TargetAddr {
    /// Address or name.
    pub host: TargetHost,
    /// Destination port.
    pub port: u16,
}

macro_rules! display_inner {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}
display_inner!(LocationCode, AccountId, ClientAddr, EgressAddr);

impl LocationCode {
    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AccountId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TargetHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            TargetHost::Ip(ip) => ip.fmt(f),
            TargetHost::Name(name) => f.write_str(name),
        }
    }
}

impl fmt::Display for TargetAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl TargetAddr {
    /// Parses `host:port`, `v4:port` or `[v6]:port`; names are lowercased and lose a trailing dot.
    pub fn parse(text: &str) -> Result<TargetAddr, String> {
        if let Ok(sa) = text.parse::<SocketAddr>() {
            return Ok(TargetAddr {
                host: TargetHost::Ip(sa.ip()),
                port: sa.port(),
            });
        }
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| format!("`{text}` is not HOST:PORT"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("`{port}` is not a port number"))?;
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() || host.contains(['[', ']', ':', '/', ' ']) {
            return Err(format!("`{host}` is not a host name"));
        }
        Ok(TargetAddr {
            host: TargetHost::Name(host),
            port,
        })
    }
}
