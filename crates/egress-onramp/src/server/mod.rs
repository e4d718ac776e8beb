//! The async on-ramp servers: HTTP proxy and SOCKS5 on top of the sans-I/O codecs, and MASQUE
//! CONNECT-UDP over HTTP/3.

#[cfg(test)]
mod footprint;
mod gateway;
mod http;
mod io;
mod masque;
mod socks;
mod udp;

use std::time::Duration;

pub use gateway::{
    AssociateRequest, Associated, AuthError, Authorized, BoxFuture, Gateway, Listener, OnRamp,
    OpenError, OpenFailure, OpenRequest, Opened, Session, UdpAssociation, UdpReply,
};
pub use http::handle_http;
pub use masque::{handle_masque, server_config as masque_server_config, MasqueTlsError};
pub use socks::handle_socks5;

use crate::http_head::HeadLimits;

/// An established tunnel: the client, the upstream and bytes the client sent early.
pub(crate) struct Tunnel {
    client: tokio::net::TcpStream,
    opened: Opened,
    early: u64,
}

impl Tunnel {
    /// Runs a connection's handshake in its own allocation, freed before the tunnel it opened
    /// relays (an idle tunnel keeps only the relay's state), then relays it. The handshake
    /// comes boxed: an async fn keeps its arguments for its whole life, so a handshake passed
    /// by value would stay inside every idle tunnel's task.
    async fn after(
        handshake: std::pin::Pin<Box<impl std::future::Future<Output = Option<Tunnel>>>>,
        idle: Duration,
    ) {
        if let Some(tunnel) = handshake.await {
            tunnel.relay(idle).await;
        }
    }

    /// Relays until the tunnel ends, then logs it.
    async fn relay(mut self, idle: Duration) {
        let outcome =
            egress_net::relay_upstream(&mut self.client, &mut self.opened.stream, idle).await;
        self.opened.session.finish(
            outcome.bytes_up + self.early,
            outcome.bytes_down,
            outcome.close_reason,
        );
    }
}

/// Limits and timeouts of the on-ramps.
#[derive(Debug, Clone)]
pub struct OnRampSettings {
    /// Time allowed for a whole request head (or SOCKS handshake).
    pub head_timeout: Duration,
    /// A tunnel with no byte either way for this long is closed.
    pub idle_timeout: Duration,
    /// `Via` pseudonym.
    pub via: String,
    /// Head size limits.
    pub head_limits: HeadLimits,
}

impl Default for OnRampSettings {
    fn default() -> Self {
        OnRampSettings {
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            via: "egressd".into(),
            head_limits: HeadLimits::default(),
        }
    }
}
