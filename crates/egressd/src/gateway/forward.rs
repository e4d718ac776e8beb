//! The egress side of inter-node forwarding: a peer asks this node to dial (TCP) or bind a
//! socket (UDP) from an address its location holds; the port budget and the destination rules
//! apply as for local clients.

use std::net::{IpAddr, SocketAddr};

use egress_fleet::{BoundUdp, BoxFuture, Dialled, ForwardDialer, ForwardRefusal, ForwardRequest};
use egress_model::{Config, EgressAddr};
use egress_net::{bind_udp, dial, PortSlot};
use ipnet::IpNet;

use super::{dial_error, EgressGateway};

/// The source ranges location `here` holds: its dedicated IPv4s, its slices of every dedicated
/// IPv6 /64 (or the whole /64 when the deployment has one location), and its default ranges.
pub fn held_here(config: &Config, here: &str) -> Vec<IpNet> {
    let mut held = Vec::new();
    for location in config.locations.iter().filter(|l| l.code.as_str() == here) {
        held.push(IpNet::from(location.default_egress.ipv4));
        held.extend(location.default_egress.ipv6.map(IpNet::from));
    }
    for account in &config.accounts {
        for ip in &account.dedicated_ips {
            if ip.location.as_str() == here {
                held.push(IpNet::from(IpAddr::V4(ip.ipv4)));
            }
            // IPv6 leaves locally from every location (DESIGN rule 5): any node may use it.
            held.push(IpNet::from(ip.ipv6));
        }
    }
    held
}

fn refusal(status: u16, close_reason: &'static str, message: String) -> ForwardRefusal {
    ForwardRefusal {
        status,
        close_reason,
        message,
    }
}

impl EgressGateway {
    /// Checks a peer's request as a local client's would be: the source is held here, the
    /// destination is not this gateway, and the source's budget towards it has room.
    fn admit_forward(
        &self,
        peer: &str,
        request: &ForwardRequest,
    ) -> Result<(EgressAddr, PortSlot), ForwardRefusal> {
        let source = request.source;
        if !self.held.load().iter().any(|net| net.contains(&source)) {
            return Err(refusal(
                403,
                "egress_source_not_held",
                format!(
                    "{peer} asked for source {source}, which location {} does not hold",
                    self.settings.location
                ),
            ));
        }
        let destination: SocketAddr = request.destination;
        let snapshot = self.snapshot.load();
        let dst = destination.ip().to_canonical();
        if super::own::is_own(&self.own.load(), dst) && !snapshot.is_allowed_destination(dst) {
            return Err(refusal(
                403,
                "forbidden_destination",
                format!("{dst} is an address of this gateway"),
            ));
        }
        let source = EgressAddr(source);
        let slot = self
            .ledger
            .acquire(source, destination, request.max_connections_per_destination)
            .map_err(|e| refusal(503, "egress_port_allocation_error", e.to_string()))?;
        Ok((source, slot))
    }
}

impl ForwardDialer for EgressGateway {
    fn dial<'a>(
        &'a self,
        peer: &'a str,
        request: &'a ForwardRequest,
    ) -> BoxFuture<'a, Result<Dialled, ForwardRefusal>> {
        Box::pin(async move {
            let (source, slot) = self.admit_forward(peer, request)?;
            let stream = dial(source, request.destination, self.settings.connect_timeout)
                .await
                .map_err(|e| {
                    let error = dial_error(&e);
                    refusal(502, error.close_reason, error.message)
                })?;
            Ok(Dialled {
                stream,
                guard: Box::new(slot),
            })
        })
    }

    fn bind_udp<'a>(
        &'a self,
        peer: &'a str,
        request: &'a ForwardRequest,
    ) -> BoxFuture<'a, Result<BoundUdp, ForwardRefusal>> {
        Box::pin(async move {
            let (source, slot) = self.admit_forward(peer, request)?;
            let socket =
                bind_udp(source).map_err(|e| refusal(500, e.close_reason(), e.to_string()))?;
            Ok(BoundUdp {
                socket,
                guard: Box::new(slot),
            })
        })
    }
}
