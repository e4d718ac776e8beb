//! The client side of a SOCKS5 UDP association (RFC 1928 §7): a relay socket that accepts
//! datagrams from the client only, strips their header and hands them to the gateway, and
//! wraps the destinations' replies in the header on the way back. The association lives as
//! long as the TCP control connection.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

use super::gateway::{Associated, UdpReply};
use crate::socks5::udp::write_udp_header;
use crate::socks5::{parse_udp_header, TargetAddr, UdpHeader};

/// The largest UDP payload over IPv4 or IPv6 (without jumbograms).
const MAX_DATAGRAM: usize = 65_535;

/// Who may send on the relay socket: the control connection's IP, from the port it declared,
/// or (declared 0) from the first port it sends from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientFilter {
    ip: IpAddr,
    addr: Option<SocketAddr>,
}

impl ClientFilter {
    /// The client at `peer` declared `declared_port` (0: not known yet) in its request.
    pub(crate) fn new(peer: SocketAddr, declared_port: u16) -> Self {
        let ip = peer.ip().to_canonical();
        let addr = (declared_port != 0).then(|| SocketAddr::new(ip, declared_port));
        ClientFilter { ip, addr }
    }

    /// Whether a datagram from `from` is the client's; the first one fixes an undeclared port.
    pub(crate) fn admit(&mut self, from: SocketAddr) -> bool {
        let from = SocketAddr::new(from.ip().to_canonical(), from.port());
        match self.addr {
            Some(addr) => addr == from,
            None if from.ip() == self.ip => {
                self.addr = Some(from);
                true
            }
            None => false,
        }
    }

    /// Where replies go, once known.
    fn client(&self) -> Option<SocketAddr> {
        self.addr
    }
}

/// Relays an association until the control connection closes or nothing moves for `idle`,
/// then finishes it (the gateway logs its flows with the close reason).
pub(crate) async fn relay_association(
    mut control: TcpStream,
    relay: UdpSocket,
    mut filter: ClientFilter,
    associated: Associated,
    idle: Duration,
) {
    let Associated {
        association,
        mut replies,
    } = associated;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut control_buf = [0u8; 64];
    // Replies are wrapped here, one buffer for the association's life.
    let mut out = Vec::new();
    let mut quiet_since = Instant::now();
    // One timer for the association, moved only when it fires: re-arming it for every
    // datagram would cost a timer-wheel update each time.
    let idle_timer = tokio::time::sleep(idle);
    tokio::pin!(idle_timer);
    let close_reason = loop {
        tokio::select! {
            received = relay.recv_from(&mut buf) => {
                let Ok((n, from)) = received else { break "relay_error" };
                if !filter.admit(from) {
                    association.dropped("foreign_source");
                    continue;
                }
                quiet_since = Instant::now();
                match parse_udp_header(&buf[..n]) {
                    Ok((header, _)) if header.frag != 0 => association.dropped("fragmented"),
                    Ok((header, offset)) => {
                        association.send(model_target(header.target), &buf[offset..n]).await;
                    }
                    Err(_) => association.dropped("malformed"),
                }
            }
            reply = replies.recv() => {
                let Some(reply) = reply else { break "closed" };
                quiet_since = Instant::now();
                if let Some(client) = filter.client() {
                    if wrap(&mut out, &reply) {
                        // A full client socket buffer loses the datagram, as UDP may.
                        let _ = relay.send_to(&out, client).await;
                    }
                }
            }
            read = control.read(&mut control_buf) => match read {
                Ok(0) => break "closed",
                Err(_) => break "connection_reset",
                // The control connection carries nothing after the reply (RFC 1928 §7).
                Ok(_) => {}
            },
            () = &mut idle_timer => {
                let deadline = quiet_since + idle;
                if Instant::now() >= deadline {
                    break "idle_timeout";
                }
                idle_timer.as_mut().reset(deadline);
            }
        }
    };
    association.finish(close_reason);
}

/// Writes the reply datagram into `out`: the header naming the destination that sent it, then
/// the payload. False if the header cannot be written.
fn wrap(out: &mut Vec<u8>, reply: &UdpReply) -> bool {
    let header = UdpHeader {
        frag: 0,
        target: TargetAddr::Ip(reply.from),
    };
    out.clear();
    if write_udp_header(out, &header).is_err() {
        return false;
    }
    out.extend_from_slice(&reply.payload);
    true
}

/// The codec's target as the gateway's.
pub(crate) fn model_target(target: TargetAddr) -> egress_model::TargetAddr {
    use egress_model::TargetHost;
    match target {
        TargetAddr::Ip(sa) => egress_model::TargetAddr {
            host: TargetHost::Ip(sa.ip()),
            port: sa.port(),
        },
        TargetAddr::Domain(name, port) => egress_model::TargetAddr {
            host: TargetHost::Name(name),
            port,
        },
    }
}

#[cfg(test)]
mod tests;
