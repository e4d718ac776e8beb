//! The private backbone between the gateways of a multi-location topology: a router namespace
//! with one link per gateway, apart from their internet uplinks, and partitions between pairs.
//!
//! ```text
//!  gateway n  to-backbone 10.201.n.1/24 ----- 10.201.n.2/24 to-<gw>  backbone (forwarding on)
//!             route 10.201.0.0/16 via 10.201.n.2
//! ```

use std::net::Ipv4Addr;

use crate::{Gateway, HarnessError, Lab, LinkBytes, Netns, Topology};

/// The backbone namespace's role.
pub(crate) const BACKBONE_ROLE: &str = "backbone";
/// Every backbone address is inside this prefix; each gateway routes it to the backbone.
const BACKBONE_NET: &str = "10.201.0.0/16";

/// One gateway's link to the backbone router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackboneLink {
    /// The interface inside the gateway (`to-backbone`).
    pub gateway_dev: String,
    /// The interface inside the backbone router (`to-<gateway role>`).
    pub router_dev: String,
    /// The gateway's address on the link, `10.201.<n>.1` (also [`Gateway::backbone_v4`]).
    pub gateway_v4: Ipv4Addr,
    /// The router's address on the link, `10.201.<n>.2`: the gateway's route to the backbone.
    pub router_v4: Ipv4Addr,
}

impl BackboneLink {
    /// The link's subnet, `10.201.<n>.0/24`.
    fn subnet(&self) -> String {
        let [a, b, c, _] = self.gateway_v4.octets();
        format!("{a}.{b}.{c}.0/24")
    }
}

impl Lab {
    /// Builds the backbone router and links each gateway to it (gateway `n` is 1-based in the
    /// order given), filling in the gateways' backbone fields.
    pub(crate) fn backbone(&mut self, gateways: &mut [Gateway]) -> Result<Netns, HarnessError> {
        let router = self.namespace(BACKBONE_ROLE)?;
        router.enable_forwarding()?;
        for (index, gateway) in gateways.iter_mut().enumerate() {
            let n = u8::try_from(index + 1).expect("check_spec bounds the gateway count");
            let gateway_v4 = Ipv4Addr::new(10, 201, n, 1);
            let router_v4 = Ipv4Addr::new(10, 201, n, 2);
            let veth = self.link(
                &gateway.ns,
                &[&format!("{gateway_v4}/24")],
                &router,
                &[&format!("{router_v4}/24")],
            )?;
            gateway.ns.add_route(BACKBONE_NET, &router_v4.to_string())?;
            gateway.backbone_v4 = Some(gateway_v4);
            gateway.backbone = Some(BackboneLink {
                gateway_dev: veth.a_dev,
                router_dev: veth.b_dev,
                gateway_v4,
                router_v4,
            });
        }
        Ok(router)
    }
}

impl Gateway {
    /// Bytes received and sent on the gateway's internet uplink so far.
    pub fn uplink_bytes(&self) -> Result<LinkBytes, HarnessError> {
        self.ns.link_bytes(&self.uplink_dev)
    }

    /// Bytes received and sent on the gateway's backbone link so far; an error for the gateway
    /// of a single-gateway topology, which has none.
    pub fn backbone_bytes(&self) -> Result<LinkBytes, HarnessError> {
        self.ns.link_bytes(&self.backbone_link()?.gateway_dev)
    }

    fn backbone_link(&self) -> Result<&BackboneLink, HarnessError> {
        self.backbone
            .as_ref()
            .ok_or_else(|| HarnessError::NoBackbone {
                gateway: self.ns.role().to_owned(),
            })
    }
}

impl Topology {
    /// Cuts the backbone between gateways `a` and `b`, both ways, as a network partition
    /// would: the router silently drops what one sends the other (no reset, no ICMP), so open
    /// connections between them stall into timeouts and new ones never complete. Every other
    /// link, their uplinks and their backbone traffic with other gateways included, keeps
    /// working. Partitioning a pair twice is an error; [`Topology::heal`] undoes it.
    pub fn partition(&self, a: &str, b: &str) -> Result<(), HarnessError> {
        self.backbone_rules("add", a, b)
    }

    /// Undoes [`Topology::partition`] of `a` and `b`; packets retransmitted from then on arrive,
    /// so stalled connections resume. Healing a pair that is not partitioned is an error.
    pub fn heal(&self, a: &str, b: &str) -> Result<(), HarnessError> {
        self.backbone_rules("del", a, b)
    }

    /// Adds or deletes the router's `blackhole` rules for traffic in from one link and
    /// addressed to the other's subnet. A blackhole rule drops forwarded packets without an
    /// ICMP error, unlike `prohibit` or `unreachable`.
    fn backbone_rules(&self, action: &str, a: &str, b: &str) -> Result<(), HarnessError> {
        let link = |role: &str| -> Result<&BackboneLink, HarnessError> {
            self.gateway(role)
                .ok_or_else(|| HarnessError::UnknownGateway {
                    role: role.to_owned(),
                })?
                .backbone_link()
        };
        let (link_a, link_b) = (link(a)?, link(b)?);
        if a == b {
            return Err(HarnessError::BadTopology {
                reason: format!("cannot partition gateway {a:?} from itself"),
            });
        }
        let router = self
            .backbone
            .as_ref()
            .expect("gateways with a backbone link belong to a topology with a backbone");
        let rules = [(link_a, link_b), (link_b, link_a)].map(|(from, to)| {
            [
                "iif".to_owned(),
                from.router_dev.clone(),
                "to".to_owned(),
                to.subnet(),
            ]
        });
        // `ip rule add` accepts duplicates, so refuse a second partition here.
        if action == "add" {
            let listed = router.ip(&[
                "-4",
                "rule",
                "list",
                "iif",
                &rules[0][1],
                "to",
                &rules[0][3],
            ])?;
            if !listed.stdout.is_empty() {
                return Err(HarnessError::BadTopology {
                    reason: format!("gateways {a:?} and {b:?} are already partitioned"),
                });
            }
        }
        for selector in &rules {
            let mut args = vec!["-4", "rule", action];
            args.extend(selector.iter().map(String::as_str));
            args.push("blackhole");
            router.ip(&args)?;
        }
        Ok(())
    }
}
