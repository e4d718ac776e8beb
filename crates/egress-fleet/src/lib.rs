//! A fleet of nodes across locations: the fleet's certificates, membership and the location
//! health view that feeds the snapshot, and inter-node forwarding (HTTP/2 extended CONNECT
//! inside mutual TLS) of TCP connections and UDP flows, so an IPv4 leaves from the location
//! that holds it.

mod membership;
mod peer;
pub mod pki;
mod server;
mod udp;
pub mod wire;

use egress_model::LocationCode;

pub use membership::{Membership, PeerStatus};
pub use peer::{LinkTimeouts, PeerLink, PeerSpec};
pub use pki::{FleetFiles, FleetTls, PkiError};
pub use server::{
    serve, BoundUdp, BoxFuture, Dialled, ForwardDialer, ForwardRefusal, ServeSettings,
};
pub use udp::tunnel::{UdpReceiver, UdpSendError, UdpSender, UdpStreamEnded, UdpTunnel};
pub use wire::{ForwardRequest, TunnelKind};

/// Why a forwarded connection did not open.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// No node of the location answers.
    #[error("no node of location {location} answers")]
    LocationUnavailable {
        /// The location.
        location: LocationCode,
    },
    /// The link to a peer failed.
    #[error("fleet link to {peer}: {detail}")]
    Link {
        /// The peer node.
        peer: String,
        /// What failed.
        detail: String,
    },
    /// A peer took too long.
    #[error("fleet peer {peer} did not answer in time")]
    Timeout {
        /// The peer node.
        peer: String,
    },
    /// The peer answered and refused (its close reason says why).
    #[error("fleet peer {peer} refused ({status}): {close_reason}")]
    Refused {
        /// The peer node.
        peer: String,
        /// HTTP status.
        status: u16,
        /// The peer's close reason.
        close_reason: &'static str,
    },
    /// A request could not be built.
    #[error("fleet request to {peer}: {detail}")]
    Internal {
        /// The peer node.
        peer: String,
        /// What failed.
        detail: String,
    },
}

impl FleetError {
    fn link(peer: &str, e: impl std::fmt::Display) -> FleetError {
        FleetError::Link {
            peer: peer.to_owned(),
            detail: e.to_string(),
        }
    }

    fn internal(peer: &str, e: impl std::fmt::Display) -> FleetError {
        FleetError::Internal {
            peer: peer.to_owned(),
            detail: e.to_string(),
        }
    }

    /// The ingress node's close reason for the log.
    pub fn close_reason(&self) -> &'static str {
        match self {
            FleetError::LocationUnavailable { .. } => "egress_location_unavailable",
            FleetError::Link { .. } => "fleet_link_error",
            FleetError::Timeout { .. } => "fleet_timeout",
            FleetError::Refused { close_reason, .. } => close_reason,
            FleetError::Internal { .. } => "internal_error",
        }
    }
}
