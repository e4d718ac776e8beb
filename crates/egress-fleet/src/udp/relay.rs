//! The egress node's side of a forwarded UDP flow: a socket bound to the requested source and
//! connected to the one destination (so the kernel passes only that destination's replies),
//! relaying capsules to datagrams and back until either node ends the stream or nothing moves
//! for the idle timeout.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::{DatagramReader, DatagramWriter, LINK_ERROR, MAX_PAYLOAD};
use crate::server::{
    refused, status, BoundUdp, ForwardDialer, ForwardRefusal, ServeSettings, WithHeader,
};
use crate::wire::{self, ForwardRequest};

/// What a forwarded UDP flow moved, and why it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UdpOutcome {
    pub(crate) datagrams_up: u64,
    pub(crate) bytes_up: u64,
    pub(crate) datagrams_down: u64,
    pub(crate) bytes_down: u64,
    pub(crate) close_reason: &'static str,
}

/// Answers a peer's `connect-udp` request: binds the source through the dialer, connects the
/// socket to the destination, answers 200 and relays on the upgraded stream.
pub(crate) async fn answer(
    mut request: Request<Incoming>,
    peer: &str,
    forward: ForwardRequest,
    dialer: Arc<dyn ForwardDialer>,
    settings: ServeSettings,
) -> Response<Empty<Bytes>> {
    let bound = match dialer.bind_udp(peer, &forward).await {
        Ok(bound) => bound,
        Err(refusal) => return refused(peer, &forward, &refusal),
    };
    if let Err(e) = bound.socket.connect(forward.destination).await {
        let refusal = ForwardRefusal {
            status: 502,
            close_reason: connect_close_reason(&e),
            message: format!("cannot send to {}: {e}", forward.destination),
        };
        return refused(peer, &forward, &refusal);
    }
    let local = bound.socket.local_addr().ok();
    let on_upgrade = hyper::upgrade::on(&mut request);
    let peer = peer.to_owned();
    tokio::spawn(async move {
        let BoundUdp { socket, guard } = bound;
        match on_upgrade.await {
            Ok(upgraded) => {
                let tunnel = TokioIo::new(upgraded);
                let outcome = relay(tunnel, &socket, settings.udp_idle_timeout).await;
                tracing::debug!(
                    peer,
                    session = %forward.session,
                    destination = %forward.destination,
                    datagrams_up = outcome.datagrams_up,
                    bytes_up = outcome.bytes_up,
                    datagrams_down = outcome.datagrams_down,
                    bytes_down = outcome.bytes_down,
                    close_reason = outcome.close_reason,
                    "forwarded UDP flow ended"
                );
            }
            Err(e) => tracing::warn!(peer, error = %e, "forwarded UDP flow never started"),
        }
        drop(guard);
    });
    let response = status(StatusCode::OK, None).with_header(wire::H_CAPSULE_PROTOCOL, "?1");
    match local {
        Some(local) => response.with_header(wire::H_BOUND, &local.to_string()),
        None => response,
    }
}

fn connect_close_reason(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
            "upstream_unreachable"
        }
        _ => "upstream_connect_error",
    }
}

/// Datagrams moved and the last time one moved.
#[derive(Debug)]
struct Activity {
    started: Instant,
    /// Milliseconds from `started` to the last datagram either way.
    last_ms: AtomicU64,
    datagrams_up: AtomicU64,
    bytes_up: AtomicU64,
    datagrams_down: AtomicU64,
    bytes_down: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            datagrams_up: AtomicU64::new(0),
            bytes_up: AtomicU64::new(0),
            datagrams_down: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn count(&self, datagrams: &AtomicU64, bytes: &AtomicU64, len: usize) {
        datagrams.fetch_add(1, Ordering::Relaxed);
        bytes.fetch_add(len as u64, Ordering::Relaxed);
        self.last_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// How long nothing has moved.
    fn quiet(&self) -> Duration {
        Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.last_ms.load(Ordering::Relaxed)),
        )
    }
}

/// Relays between the stream (capsules) and `socket` (connected to the destination) until the
/// ingress node ends the stream (`closed`), the stream fails (`fleet_link_error`), or nothing
/// moves either way for `idle` (`idle_timeout`); then ends this side of the stream.
pub(crate) async fn relay<S>(tunnel: S, socket: &UdpSocket, idle: Duration) -> UdpOutcome
where
    S: AsyncRead + AsyncWrite,
{
    let (read, write) = tokio::io::split(tunnel);
    let mut reader = DatagramReader::new(read);
    let mut writer = DatagramWriter::new(write);
    let activity = Activity::new();
    let up = async {
        loop {
            match reader.next().await {
                Ok(Some(payload)) => {
                    activity.count(&activity.datagrams_up, &activity.bytes_up, payload.len());
                    // A datagram the kernel refuses (a queued ICMP error, a full buffer) is
                    // lost, as UDP may lose it.
                    let _ = socket.send(&payload).await;
                }
                Ok(None) => return "closed",
                Err(_) => return LINK_ERROR,
            }
        }
    };
    let down = async {
        let mut buf = vec![0u8; MAX_PAYLOAD];
        loop {
            match socket.recv(&mut buf).await {
                Ok(n) => {
                    activity.count(&activity.datagrams_down, &activity.bytes_down, n);
                    if writer.send(&buf[..n]).await.is_err() {
                        return LINK_ERROR;
                    }
                }
                // The destination answered an earlier datagram with an ICMP error: later ones
                // may still pass.
                Err(e) if is_icmp_error(&e) => {}
                Err(_) => return "relay_error",
            }
        }
    };
    let watchdog = async {
        loop {
            let quiet = activity.quiet();
            if quiet >= idle {
                return "idle_timeout";
            }
            tokio::time::sleep(idle - quiet).await;
        }
    };
    let close_reason = tokio::select! {
        reason = up => reason,
        reason = down => reason,
        reason = watchdog => reason,
    };
    let _ = writer.finish().await;
    UdpOutcome {
        datagrams_up: activity.datagrams_up.load(Ordering::Relaxed),
        bytes_up: activity.bytes_up.load(Ordering::Relaxed),
        datagrams_down: activity.datagrams_down.load(Ordering::Relaxed),
        bytes_down: activity.bytes_down.load(Ordering::Relaxed),
        close_reason,
    }
}

fn is_icmp_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    )
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::super::tunnel::UdpTunnel;
    use super::super::STREAM_CLOSED;
    use super::*;

    /// The egress socket of a test relay.
    async fn connected_socket(destination: SocketAddr) -> UdpSocket {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        socket.connect(destination).await.expect("connect");
        socket
    }

    /// An origin that answers each datagram with its payload reversed; with a `stranger`, that
    /// socket first sends the relay something too (the relay must not pass it on).
    async fn origin(stranger: Option<UdpSocket>) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("origin");
        let addr = socket.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_PAYLOAD];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let mut answer = buf[..n].to_vec();
                answer.reverse();
                if let Some(stranger) = &stranger {
                    let _ = stranger.send_to(b"not the destination", from).await;
                }
                let _ = socket.send_to(&answer, from).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn payloads_reach_the_destination_and_only_its_replies_come_back() {
        let stranger = UdpSocket::bind("127.0.0.1:0").await.expect("stranger");
        let destination = origin(Some(stranger)).await;
        let (ingress, egress) = tokio::io::duplex(256 * 1024);
        let socket = connected_socket(destination).await;
        let relay =
            tokio::spawn(async move { relay(egress, &socket, Duration::from_secs(30)).await });
        let UdpTunnel {
            sender,
            mut receiver,
            ..
        } = UdpTunnel::start(ingress, None);
        for payload in [&b"abc"[..], &[1, 2, 3, 4][..], &[9; 30_000][..]] {
            sender.send(payload).expect("queued");
            let mut expected = payload.to_vec();
            expected.reverse();
            assert_eq!(receiver.recv().await.expect("a reply"), expected);
        }
        // Dropping the sender ends the stream: the relay ends too, and says so.
        drop(sender);
        let outcome = relay.await.expect("relay");
        assert_eq!(outcome.close_reason, "closed");
        assert_eq!((outcome.datagrams_up, outcome.datagrams_down), (3, 3));
        assert_eq!(outcome.bytes_up, 30_007);
        assert_eq!(
            receiver.recv().await.expect_err("ended").close_reason,
            STREAM_CLOSED
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_flow_ends_at_the_idle_timeout() {
        let destination = origin(None).await;
        let (ingress, egress) = tokio::io::duplex(1024);
        let socket = connected_socket(destination).await;
        let mut tunnel = UdpTunnel::start(ingress, None);
        let outcome = relay(egress, &socket, Duration::from_secs(5)).await;
        assert_eq!(outcome.close_reason, "idle_timeout");
        assert_eq!(
            tunnel
                .receiver
                .recv()
                .await
                .expect_err("ended")
                .close_reason,
            STREAM_CLOSED
        );
    }
}
