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

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use egress_net::UpstreamRelay;
use pin_project_lite::pin_project;

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

/// What a handshake established.
pub(crate) enum Established {
    /// A byte stream to relay.
    Tunnel(Tunnel),
    /// Anything else the connection goes on with (a SOCKS5 UDP association), boxed so that a
    /// tunnel's task does not reserve room for it.
    Other(Pin<Box<dyn Future<Output = ()> + Send>>),
}

pin_project! {
    /// A client connection's task, written out by hand: its handshake, boxed (head buffers,
    /// parser state and credentials are freed when it ends), then what it established. An
    /// idle tunnel's task thus holds the relay (both sockets, its directions and its timer)
    /// and its session, and nothing twice: each layer of async fns would keep its arguments
    /// beside its own state.
    pub(crate) struct Connection<H> {
        #[pin]
        stage: Stage<H>,
        idle: Duration,
    }
}

pin_project! {
    #[project = StageProj]
    enum Stage<H> {
        Handshake { handshake: Pin<Box<H>> },
        Tunnel {
            #[pin]
            relay: UpstreamRelay,
            session: Option<Box<dyn Session>>,
            early: u64,
        },
        Other { task: Pin<Box<dyn Future<Output = ()> + Send>> },
        Done,
    }
}

impl<H: Future<Output = Option<Established>>> Connection<H> {
    /// Runs `handshake`, then relays what it established; `idle` closes a silent tunnel.
    pub(crate) fn new(handshake: H, idle: Duration) -> Self {
        Connection {
            stage: Stage::Handshake {
                handshake: Box::pin(handshake),
            },
            idle,
        }
    }
}

impl<H: Future<Output = Option<Established>>> Future for Connection<H> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let this = self.as_mut().project();
            let next = match this.stage.project() {
                StageProj::Handshake { handshake } => match ready!(handshake.as_mut().poll(cx)) {
                    Some(Established::Tunnel(t)) => Stage::Tunnel {
                        relay: egress_net::relay_upstream(t.client, t.opened.stream, *this.idle),
                        session: Some(t.opened.session),
                        early: t.early,
                    },
                    Some(Established::Other(task)) => Stage::Other { task },
                    None => Stage::Done,
                },
                StageProj::Tunnel {
                    relay,
                    session,
                    early,
                } => {
                    let outcome = ready!(relay.poll(cx));
                    if let Some(session) = session.take() {
                        session.finish(
                            outcome.bytes_up + *early,
                            outcome.bytes_down,
                            outcome.close_reason,
                        );
                    }
                    Stage::Done
                }
                StageProj::Other { task } => {
                    ready!(task.as_mut().poll(cx));
                    Stage::Done
                }
                StageProj::Done => return Poll::Ready(()),
            };
            // Replacing the stage drops the one that ended (the handshake's box, or the
            // relay and its sockets) before the next starts.
            self.as_mut().project().stage.set(next);
        }
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
