//! The configuration document. Field names are the vocabulary of the design brief and are the
//! same in TOML, the API and logs.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::addr::{AccountId, LocationCode};

/// Concurrent connections an egress address may hold per destination IP and port.
pub const DEFAULT_MAX_CONNECTIONS_PER_DESTINATION: u32 = 40_000;

/// A whole deployment: locations, nodes, shared ranges and every account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Deployment-wide settings.
    #[serde(default)]
    pub deployment: Deployment,
    /// The operator's leased address pools: every `leased` dedicated IP lies in one of them.
    #[serde(default)]
    pub address_pools: Vec<AddressPool>,
    /// Data centres.
    pub locations: Vec<Location>,
    /// Running egressd processes, each in one location.
    #[serde(default)]
    pub nodes: Vec<Node>,
    /// Destinations served by the operator's own edge.
    #[serde(default)]
    pub on_net: Vec<OnNetDestination>,
    /// Prefixes reached through tunnels; never sent from a dedicated IP.
    #[serde(default)]
    pub private_networks: Vec<PrivateNetwork>,
    /// Tenants.
    #[serde(default)]
    pub accounts: Vec<Account>,
}

/// Deployment-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// A deployment with one location may give accounts fewer than two dedicated IPs.
    #[serde(default)]
    pub single_location: bool,
    /// Concurrent connections per egress address, destination IP and port.
    #[serde(default = "default_max_connections_per_destination")]
    pub max_connections_per_destination: u32,
    /// Destinations that are refused by default (loopback, private, link-local) but allowed here.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub allow_destinations: Vec<IpNet>,
    /// Concurrent sessions one user may hold on a node.
    #[serde(default = "default_max_sessions_per_user")]
    pub max_sessions_per_user: u32,
    /// Concurrent sessions one account may hold on a node.
    #[serde(default = "default_max_sessions_per_account")]
    pub max_sessions_per_account: u32,
    /// Publish BYOIP dedicated IPs in the geofeed too. Off by default: an account's own prefix
    /// is usually described by the account's own geofeed, and two feeds must not disagree.
    #[serde(default = "default_geofeed_include_byoip")]
    pub geofeed_include_byoip: bool,
}

fn default_geofeed_include_byoip() -> bool {
    false
}

fn default_max_sessions_per_user() -> u32 {
    10_000
}

fn default_max_sessions_per_account() -> u32 {
    100_000
}

fn default_max_connections_per_destination() -> u32 {
    DEFAULT_MAX_CONNECTIONS_PER_DESTINATION
}

impl Default for Deployment {
    fn default() -> Self {
        Deployment {
            single_location: false,
            max_connections_per_destination: DEFAULT_MAX_CONNECTIONS_PER_DESTINATION,
            allow_destinations: Vec::new(),
            max_sessions_per_user: default_max_sessions_per_user(),
            max_sessions_per_account: default_max_sessions_per_account(),
            geofeed_include_byoip: default_geofeed_include_byoip(),
        }
    }
}

/// A prefix of the operator's address space that dedicated IPs are leased from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddressPool {
    /// Name shown in the address space view.
    pub name: String,
    /// The prefix.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub prefix: IpNet,
}

/// A data centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Short code, for example `lax`.
    pub code: LocationCode,
    /// City name.
    pub city: String,
    /// ISO 3166-2 subdivision, for example `US-CA`.
    pub region: String,
    /// ISO 3166-1 alpha-2 country, for example `US`.
    pub country: String,
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// Index of this location's slice of every dedicated IPv6 /64 (a /80 per index).
    pub ipv6_slice: u16,
    /// The shared default egress range of this location.
    pub default_egress: DefaultEgress,
}

/// The shared source range of a location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DefaultEgress {
    /// IPv4 range.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ipv4: Ipv4Net,
    /// IPv6 range, if the location sends IPv6.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub ipv6: Option<Ipv6Net>,
}

/// One egressd process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Unique id.
    pub id: String,
    /// Where it runs.
    pub location: LocationCode,
    /// Its fleet listener (`serve --fleet-listen`), where peers open forwarded connections
    /// and probe its health. A node without one cannot receive forwarded connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub fleet_address: Option<SocketAddr>,
}

/// A destination served by the operator's own edge: IPv4 to it leaves locally and carries the
/// dedicated IPv4 in a PROXY protocol v2 header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OnNetDestination {
    /// Name.
    pub name: String,
    /// Destination prefixes.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub prefixes: Vec<IpNet>,
    /// Host names; each covers its subdomains.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// Prefixes reached through a tunnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PrivateNetwork {
    /// Name.
    pub name: String,
    /// Prefixes.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub prefixes: Vec<IpNet>,
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Unique id.
    pub id: AccountId,
    /// Display name.
    pub name: String,
    /// Proxy, TCP, UDP and host-selector switches.
    #[serde(default)]
    pub traffic: TrafficSettings,
    /// Groups users may belong to.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// How clients reach the gateway without a device client.
    #[serde(default)]
    pub proxy_endpoints: Vec<ProxyEndpoint>,
    /// The account's own prefixes (BYOIP).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub byoip_prefixes: Vec<IpNet>,
    /// Dedicated egress IPs leased to (or brought by) this account.
    #[serde(default)]
    pub dedicated_ips: Vec<DedicatedIp>,
    /// Egress policies; evaluated by precedence, lowest first.
    #[serde(default)]
    pub policies: Vec<Policy>,
}

/// Per-account traffic settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrafficSettings {
    /// Proxy traffic at all; when off, nothing uses a dedicated IP.
    #[serde(default = "enabled")]
    pub proxy: bool,
    /// Proxy TCP.
    #[serde(default = "enabled")]
    pub tcp: bool,
    /// Proxy UDP (HTTP/3); when off, clients fall back to TCP.
    #[serde(default)]
    pub udp: bool,
    /// Allow host-name selectors (`net.fqdn.*`) to match.
    #[serde(default = "enabled")]
    pub host_selectors: bool,
}

fn enabled() -> bool {
    true
}

impl Default for TrafficSettings {
    fn default() -> Self {
        TrafficSettings {
            proxy: true,
            tcp: true,
            udp: false,
            host_selectors: true,
        }
    }
}

/// A user of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Login name, unique in the account.
    pub name: String,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Groups (declared in the account).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Argon2 PHC string for proxy credentials.
    #[serde(default)]
    pub password_hash: Option<String>,
}

/// Protocol a proxy endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ProxyProtocol {
    /// HTTP/1.1 CONNECT and absolute-form.
    Http,
    /// SOCKS5.
    Socks5,
    /// MASQUE CONNECT-UDP (RFC 9298) over HTTP/3, on UDP; needs `tls`.
    Masque,
}

impl ProxyProtocol {
    /// Whether the endpoint listens on UDP (QUIC) rather than TCP. A TCP and a UDP endpoint
    /// may share one address and port.
    pub fn is_udp(self) -> bool {
        matches!(self, ProxyProtocol::Masque)
    }

    /// The name in configuration and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyProtocol::Http => "http",
            ProxyProtocol::Socks5 => "socks5",
            ProxyProtocol::Masque => "masque",
        }
    }
}

/// How a proxy endpoint decides which account a client belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Authorization {
    /// Username and password of one of the account's users.
    Credentials,
    /// Any client whose source address is in one of these prefixes.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    SourcePrefixes(Vec<IpNet>),
}

/// A listener of the gateway bound to an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProxyEndpoint {
    /// Name, unique in the account; `net.proxy_endpoint` matches it.
    pub name: String,
    /// Protocol.
    pub protocol: ProxyProtocol,
    /// Listening address.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub listen: SocketAddr,
    /// Who may use it.
    pub authorization: Authorization,
    /// The certificate and key a `masque` endpoint presents (HTTP/3 is always TLS); no other
    /// protocol takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<EndpointTls>,
}

/// PEM files of a TLS server: read when the node starts and at each configuration change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EndpointTls {
    /// The certificate chain, leaf first (PEM).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub certificate: PathBuf,
    /// The private key of the leaf certificate (PEM: PKCS#8, PKCS#1 or SEC1).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub key: PathBuf,
}

/// Where a dedicated IP comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum IpSource {
    /// From the operator's pool.
    Leased,
    /// The account's own prefix.
    Byoip,
}

/// One dedicated egress IP: an IPv4 address and an IPv6 /64, both tied to one location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DedicatedIp {
    /// The IPv4 address.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Ipv4))]
    pub ipv4: Ipv4Addr,
    /// The IPv6 /64.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ipv6: Ipv6Net,
    /// Where the IPv4 lives and where both geolocate.
    pub location: LocationCode,
    /// Leased or BYOIP.
    #[serde(default = "leased")]
    pub source: IpSource,
    /// Whether it takes new traffic (`active`) or is on its way out (`draining`). Partners read
    /// it in the egress manifest to keep a draining address on their allowlist a while longer.
    #[serde(default = "active")]
    pub status: IpStatus,
}

fn leased() -> IpSource {
    IpSource::Leased
}

fn active() -> IpStatus {
    IpStatus::Active
}

/// Where a dedicated IP is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum IpStatus {
    /// In service.
    #[default]
    Active,
    /// Being retired: still owned and still geolocated, about to be released.
    Draining,
}

/// An egress policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Stable id used in logs; defaults to the name.
    #[serde(default)]
    pub id: Option<String>,
    /// Lower is evaluated first; unique in the account.
    pub precedence: u32,
    /// Name, unique in the account.
    pub name: String,
    /// Disabled policies are skipped.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Traffic expression (`net.*` fields); empty matches everything.
    #[serde(default)]
    pub traffic: String,
    /// Identity expression (`identity.*` fields); empty matches everyone.
    #[serde(default)]
    pub identity: String,
    /// What to do with matching traffic.
    pub method: EgressMethod,
}

impl Policy {
    /// The id logs carry: the explicit id, else the name.
    pub fn policy_id(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.name)
    }
}

/// How matching traffic leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EgressMethod {
    /// The location's shared default range.
    Default,
    /// One of the account's dedicated IPs.
    Dedicated {
        /// Primary IPv4 (one of the account's).
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Ipv4))]
        ipv4: Ipv4Addr,
        /// IPv6 /64; defaults to the one paired with `ipv4`.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
        ipv6: Option<Ipv6Net>,
        /// Secondary IPv4 used when the primary's location is down; `0.0.0.0` means the
        /// default range at the closest healthy location. Required.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Ipv4))]
        ipv4_fallback: Option<Ipv4Addr>,
    },
}
