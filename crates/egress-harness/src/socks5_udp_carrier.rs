//! A SOCKS5 UDP association (RFC 1928 §7) as a [`DatagramCarrier`]: the TCP control
//! connection, held open for the association's life, and a UDP socket that puts the header
//! `RSV RSV FRAG ATYP DST.ADDR DST.PORT` in front of each datagram to the relay and takes it
//! off each reply, whose header names the target that sent it.
//!
//! Written apart from the gateway's codec, so a test client does not share its bugs.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

use crate::quic_carrier::{DatagramCarrier, Writable};
use crate::{HarnessError, Netns};

/// Deadline for each read and write of the control connection's exchange.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

const VERSION: u8 = 5;
const NO_AUTHENTICATION: u8 = 0;
const UDP_ASSOCIATE: u8 = 3;
const ATYP_IPV4: u8 = 1;
const ATYP_IPV6: u8 = 4;

/// A live UDP association with a SOCKS5 proxy; dropping it closes the control connection,
/// which ends the association.
#[derive(Debug)]
pub struct Socks5UdpCarrier {
    control: TcpStream,
    socket: UdpSocket,
    relay: SocketAddr,
}

impl Socks5UdpCarrier {
    /// Asks the SOCKS5 proxy at `proxy` (no authentication) for a UDP association, from
    /// sockets made inside `ns`. Blocks during the exchange; call it inside a Tokio runtime
    /// with I/O enabled, which the UDP socket registers with.
    pub fn associate(ns: &Netns, proxy: SocketAddr) -> Result<Socks5UdpCarrier, HarnessError> {
        let failed = |reason: String| HarnessError::Socks5Associate { proxy, reason };
        let mut control = ns.connect_tcp(None, proxy)?;
        let relay = ask_for_association(&mut control, proxy)
            .map_err(|e| failed(format!("control connection: {e}")))?
            .map_err(failed)?;
        let any = match relay {
            SocketAddr::V4(_) => IpAddr::from(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::from(Ipv6Addr::UNSPECIFIED),
        };
        let socket = ns.bind_udp(SocketAddr::new(any, 0))?;
        socket
            .set_nonblocking(true)
            .and_then(|()| UdpSocket::from_std(socket))
            .map(|socket| Socks5UdpCarrier {
                control,
                socket,
                relay,
            })
            .map_err(|e| failed(format!("registering the UDP socket with Tokio: {e}")))
    }

    /// The control connection's local address (the gateway logs its port as `src_port`).
    pub fn control_addr(&self) -> io::Result<SocketAddr> {
        self.control.local_addr()
    }

    /// The relay the proxy told the client to send its datagrams to.
    pub fn relay(&self) -> SocketAddr {
        self.relay
    }
}

impl DatagramCarrier for Socks5UdpCarrier {
    fn try_send_to(&self, target: SocketAddr, payload: &[u8]) -> io::Result<()> {
        let mut datagram = Vec::with_capacity(22 + payload.len());
        write_header(&mut datagram, target);
        datagram.extend_from_slice(payload);
        self.socket.try_send_to(&datagram, self.relay).map(drop)
    }

    fn writable(self: Arc<Self>) -> Writable {
        Box::pin(async move { self.socket.writable().await })
    }

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        loop {
            let mut read = ReadBuf::new(buf);
            let from = ready!(self.socket.poll_recv_from(cx, &mut read))?;
            let len = read.filled().len();
            // Anything not from the relay, fragmented or malformed is dropped, as the relay
            // itself would; keep polling so the waker stays registered.
            if from != self.relay {
                continue;
            }
            if let Some((target, offset)) = parse_header(&buf[..len]) {
                buf.copy_within(offset..len, 0);
                return Poll::Ready(Ok((len - offset, target)));
            }
        }
    }
}

/// Greets without authentication and sends UDP ASSOCIATE from an undeclared port; the relay
/// address, or why the proxy would not give one. An unspecified relay address means the
/// proxy's own.
fn ask_for_association(
    control: &mut TcpStream,
    proxy: SocketAddr,
) -> io::Result<Result<SocketAddr, String>> {
    control.set_read_timeout(Some(CONTROL_TIMEOUT))?;
    control.set_write_timeout(Some(CONTROL_TIMEOUT))?;
    control.write_all(&[VERSION, 1, NO_AUTHENTICATION])?;
    let mut selection = [0u8; 2];
    control.read_exact(&mut selection)?;
    if selection != [VERSION, NO_AUTHENTICATION] {
        return Ok(Err(format!("method selection {selection:?}")));
    }
    // DST.ADDR 0.0.0.0, DST.PORT 0: the client does not know its sending address yet.
    control.write_all(&[VERSION, UDP_ASSOCIATE, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0])?;
    let mut head = [0u8; 4];
    control.read_exact(&mut head)?;
    let ip = match head[3] {
        ATYP_IPV4 => {
            let mut octets = [0u8; 4];
            control.read_exact(&mut octets)?;
            IpAddr::from(octets)
        }
        ATYP_IPV6 => {
            let mut octets = [0u8; 16];
            control.read_exact(&mut octets)?;
            IpAddr::from(octets)
        }
        other => return Ok(Err(format!("reply address type {other}"))),
    };
    let mut port = [0u8; 2];
    control.read_exact(&mut port)?;
    if head[0] != VERSION || head[1] != 0 {
        return Ok(Err(format!(
            "reply {head:?}: refused with code {}",
            head[1]
        )));
    }
    let ip = if ip.is_unspecified() { proxy.ip() } else { ip };
    Ok(Ok(SocketAddr::new(ip, u16::from_be_bytes(port))))
}

/// `RSV RSV FRAG=0 ATYP DST.ADDR DST.PORT` for `target`.
fn write_header(out: &mut Vec<u8>, target: SocketAddr) {
    out.extend_from_slice(&[0, 0, 0]);
    match target.ip().to_canonical() {
        IpAddr::V4(v4) => {
            out.push(ATYP_IPV4);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(ATYP_IPV6);
            out.extend_from_slice(&v6.octets());
        }
    }
    out.extend_from_slice(&target.port().to_be_bytes());
}

/// The target a reply's header names and where its payload starts; `None` for a fragment,
/// a domain name (a relay answers with addresses) or a datagram too short for its header.
fn parse_header(datagram: &[u8]) -> Option<(SocketAddr, usize)> {
    let [0, 0, 0, atyp, rest @ ..] = datagram else {
        return None;
    };
    let (ip, len) = match *atyp {
        ATYP_IPV4 => (IpAddr::from(<[u8; 4]>::try_from(rest.get(..4)?).ok()?), 4),
        ATYP_IPV6 => (
            IpAddr::from(<[u8; 16]>::try_from(rest.get(..16)?).ok()?),
            16,
        ),
        _ => return None,
    };
    let port = rest.get(len..len + 2)?;
    let port = u16::from_be_bytes([port[0], port[1]]);
    Some((SocketAddr::new(ip, port), 4 + len + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(target: &str) {
        let target: SocketAddr = target.parse().expect("address");
        let mut datagram = Vec::new();
        write_header(&mut datagram, target);
        datagram.extend_from_slice(b"payload");
        let (parsed, offset) = parse_header(&datagram).expect("a whole header");
        assert_eq!(parsed, target);
        assert_eq!(&datagram[offset..], b"payload");
    }

    #[test]
    fn headers_round_trip_for_both_families() {
        round_trip("198.51.100.80:8081");
        round_trip("[2001:db8:ffff::80]:8081");
    }

    #[test]
    fn ipv4_mapped_targets_are_sent_as_ipv4() {
        let mut datagram = Vec::new();
        write_header(
            &mut datagram,
            "[::ffff:198.51.100.80]:443".parse().expect("address"),
        );
        assert_eq!(datagram, [0, 0, 0, 1, 198, 51, 100, 80, 1, 187]);
    }

    #[test]
    fn fragments_short_and_named_replies_are_dropped() {
        assert_eq!(parse_header(&[0, 0, 1, 1, 198, 51, 100, 80, 0, 80]), None);
        assert_eq!(parse_header(&[0, 0, 0, 1, 198, 51, 100]), None);
        assert_eq!(
            parse_header(&[0, 0, 0, 3, 4, b'h', b'o', b's', b't', 0, 80]),
            None
        );
        assert_eq!(parse_header(&[1, 0, 0, 1, 198, 51, 100, 80, 0, 80]), None);
    }
}
