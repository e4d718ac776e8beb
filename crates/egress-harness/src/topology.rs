//! The ready-made topology most end-to-end tests use: a client, one gateway per location and
//! an "internet" that routes every egress prefix back to the gateway that owns it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::backbone::{BackboneLink, BACKBONE_ROLE};
use crate::{HarnessError, Lab, Netns};

/// An origin address on the internet namespace's `lo`, reachable from every gateway.
pub const ORIGIN_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 80);
/// The IPv6 origin address on the internet namespace's `lo`.
pub const ORIGIN_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0x80);

/// The most gateways one topology holds (each gets `10.<n>.0.0/24` towards the client).
const MAX_GATEWAYS: usize = 99;

/// What to build: the gateways (locations) and the egress prefixes each one sends from.
///
/// ```
/// # use egress_harness::TopologySpec;
/// let spec = TopologySpec::new()
///     .gateway("lax", &["203.0.113.10/32", "2001:db8:1::/80"])
///     .gateway("fra", &["203.0.113.20/32", "2001:db8:1:0:1::/80"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct TopologySpec {
    gateways: Vec<(String, Vec<String>)>,
}

impl TopologySpec {
    /// A spec without gateways yet.
    pub fn new() -> TopologySpec {
        TopologySpec::default()
    }

    /// Adds a gateway namespace with this role, owning these egress prefixes (dedicated IPv4
    /// /32s, IPv6 /64s or their per-location slices, default ranges).
    pub fn gateway(mut self, role: &str, egress: &[&str]) -> TopologySpec {
        self.gateways.push((
            role.to_owned(),
            egress.iter().map(|prefix| (*prefix).to_owned()).collect(),
        ));
        self
    }
}

/// One gateway of a built [`Topology`] and its addresses.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// The gateway's namespace, where the process under test runs.
    pub ns: Netns,
    /// The gateway's IPv4 address on the client link: what clients connect to.
    pub listen_v4: Ipv4Addr,
    /// The gateway's IPv6 address on the client link.
    pub listen_v6: Ipv6Addr,
    /// The client's IPv4 address on this gateway's link: what the gateway sees clients come from.
    pub client_v4: Ipv4Addr,
    /// The client's IPv6 address on this gateway's link.
    pub client_v6: Ipv6Addr,
    /// The gateway's IPv4 address on its uplink: its own, non-egress address on the internet.
    pub uplink_v4: Ipv4Addr,
    /// The gateway's IPv6 address on its uplink.
    pub uplink_v6: Ipv6Addr,
    /// The uplink's interface inside the gateway (`to-internet`): see [`Gateway::uplink_bytes`].
    pub uplink_dev: String,
    /// The gateway's address on the private backbone, `10.201.<n>.1`, which every other
    /// gateway reaches without crossing the internet. `None` in a single-gateway topology.
    pub backbone_v4: Option<Ipv4Addr>,
    /// The gateway's backbone link (interfaces, addresses); `None` in a single-gateway
    /// topology. See [`Gateway::backbone_bytes`] and [`Topology::partition`].
    pub backbone: Option<BackboneLink>,
    /// The egress prefixes routed to this gateway and local (AnyIP) inside it.
    pub egress: Vec<String>,
}

/// A built topology. Its namespaces belong to the [`Lab`] that built it.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Where test clients run; it reaches the gateways only, never the internet directly.
    pub client: Netns,
    /// Where origins run; addresses [`ORIGIN_V4`] and [`ORIGIN_V6`] live here.
    pub internet: Netns,
    /// The gateways in the order of the spec.
    pub gateways: Vec<Gateway>,
    /// The router of the private backbone between gateways (role `backbone`, forwarding on),
    /// built when the spec has two or more gateways.
    pub backbone: Option<Netns>,
}

impl Topology {
    /// The gateway with this role, if the spec had one.
    pub fn gateway(&self, role: &str) -> Option<&Gateway> {
        self.gateways
            .iter()
            .find(|gateway| gateway.ns.role() == role)
    }
}

impl Lab {
    /// Builds the usual single-location topology: namespaces `client`, `gateway` and
    /// `internet`, with `egress` routed to and local in `gateway`.
    pub fn internet(&mut self, egress: &[&str]) -> Result<Topology, HarnessError> {
        self.topology(&TopologySpec::new().gateway("gateway", egress))
    }

    /// Builds a client, the spec's gateways and an internet namespace (see the crate docs for
    /// the picture and the address plan).
    pub fn topology(&mut self, spec: &TopologySpec) -> Result<Topology, HarnessError> {
        check_spec(spec)?;
        let client = self.namespace("client")?;
        let internet = self.namespace("internet")?;
        // Gateways reach each other (inter-node forwarding) through the internet.
        internet.enable_forwarding()?;
        internet.add_address("lo", &format!("{ORIGIN_V4}/32"))?;
        internet.add_address("lo", &format!("{ORIGIN_V6}/128"))?;

        let mut gateways = Vec::new();
        for (index, (role, egress)) in spec.gateways.iter().enumerate() {
            let n = u8::try_from(index + 1).expect("check_spec bounds the gateway count");
            let n6 = u16::from(n);
            let ns = self.namespace(role)?;
            let mut gateway = Gateway {
                ns,
                listen_v4: Ipv4Addr::new(10, n, 0, 1),
                listen_v6: Ipv6Addr::new(0xfd00, 0xc, n6, 0, 0, 0, 0, 1),
                client_v4: Ipv4Addr::new(10, n, 0, 2),
                client_v6: Ipv6Addr::new(0xfd00, 0xc, n6, 0, 0, 0, 0, 2),
                uplink_v4: Ipv4Addr::new(10, 200, n, 1),
                uplink_v6: Ipv6Addr::new(0xfd00, 0xe, n6, 0, 0, 0, 0, 1),
                uplink_dev: String::new(),
                backbone_v4: None,
                backbone: None,
                egress: egress.clone(),
            };
            let internet_v4 = Ipv4Addr::new(10, 200, n, 2);
            let internet_v6 = Ipv6Addr::new(0xfd00, 0xe, n6, 0, 0, 0, 0, 2);

            self.link(
                &client,
                &[
                    &format!("{}/24", gateway.client_v4),
                    &format!("{}/64", gateway.client_v6),
                ],
                &gateway.ns,
                &[
                    &format!("{}/24", gateway.listen_v4),
                    &format!("{}/64", gateway.listen_v6),
                ],
            )?;
            let uplink = self.link(
                &gateway.ns,
                &[
                    &format!("{}/24", gateway.uplink_v4),
                    &format!("{}/64", gateway.uplink_v6),
                ],
                &internet,
                &[&format!("{internet_v4}/24"), &format!("{internet_v6}/64")],
            )?;
            gateway.uplink_dev = uplink.a_dev;
            gateway.ns.add_default_route(&internet_v4.to_string())?;
            gateway.ns.add_default_route(&internet_v6.to_string())?;
            for prefix in egress {
                gateway.ns.add_local_route(prefix)?;
                let via = if prefix.contains(':') {
                    gateway.uplink_v6.to_string()
                } else {
                    gateway.uplink_v4.to_string()
                };
                internet.add_route(prefix, &via)?;
            }
            gateways.push(gateway);
        }
        let backbone = if gateways.len() >= 2 {
            Some(self.backbone(&mut gateways)?)
        } else {
            None
        };
        Ok(Topology {
            client,
            internet,
            gateways,
            backbone,
        })
    }
}

/// Refuses a spec the builder cannot lay out, before any namespace exists.
fn check_spec(spec: &TopologySpec) -> Result<(), HarnessError> {
    if spec.gateways.is_empty() {
        return Err(HarnessError::BadTopology {
            reason: "no gateway: add one with TopologySpec::gateway".to_owned(),
        });
    }
    if spec.gateways.len() > MAX_GATEWAYS {
        return Err(HarnessError::BadTopology {
            reason: format!("{} gateways, at most {MAX_GATEWAYS}", spec.gateways.len()),
        });
    }
    for (role, egress) in &spec.gateways {
        let backbone = spec.gateways.len() >= 2 && role == BACKBONE_ROLE;
        if role == "client" || role == "internet" || backbone {
            return Err(HarnessError::BadTopology {
                reason: format!("gateway role {role:?} is taken by the topology itself"),
            });
        }
        for prefix in egress {
            check_prefix(prefix).map_err(|reason| HarnessError::BadPrefix {
                gateway: role.clone(),
                prefix: prefix.clone(),
                reason,
            })?;
        }
    }
    Ok(())
}

/// Why `prefix` is not an `ADDRESS/LENGTH` the routes can use, if it is not.
fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    let (addr, len) = prefix
        .split_once('/')
        .ok_or("has no /LENGTH (write 203.0.113.10/32, not 203.0.113.10)")?;
    let addr: IpAddr = addr.parse().map_err(|_| "is not an IP address")?;
    let len: u8 = len
        .parse()
        .map_err(|_| "has a length that is not a number")?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err("has a length longer than the address");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_need_an_address_and_a_length() {
        assert!(check_prefix("203.0.113.10/32").is_ok());
        assert!(check_prefix("2001:db8:1::/64").is_ok());
        assert!(check_prefix("203.0.113.10").is_err());
        assert!(check_prefix("203.0.113.10/33").is_err());
        assert!(check_prefix("2001:db8::/129").is_err());
        assert!(check_prefix("example.com/32").is_err());
    }

    #[test]
    fn specs_the_builder_cannot_lay_out_are_refused() {
        assert!(check_spec(&TopologySpec::new()).is_err());
        assert!(check_spec(&TopologySpec::new().gateway("client", &[])).is_err());
        let two = TopologySpec::new()
            .gateway("lax", &[])
            .gateway("backbone", &[]);
        assert!(check_spec(&two).is_err());
        let bad = TopologySpec::new().gateway("lax", &["203.0.113.10"]);
        let err = check_spec(&bad).expect_err("a prefix without length is refused");
        assert!(err.to_string().contains("\"lax\""), "{err}");
        assert!(check_spec(&TopologySpec::new().gateway("lax", &["2001:db8:1::/64"])).is_ok());
    }
}
