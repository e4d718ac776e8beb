//! A datagram flow to the echo origin, sent the way a UDP client of each route sends: straight
//! to the origin, or through a SOCKS5 UDP association (RFC 1928 §7: a TCP control connection
//! that keeps the association alive, and datagrams behind a header naming the destination, sent
//! to the relay address the proxy answered with).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::time::Duration;

use tokio::net::{TcpStream, UdpSocket};

use crate::client::{socks5_request, Mode, OriginAddr, Route, SOCKS5_UDP_ASSOCIATE};
use crate::echo::WHOAMI;
use crate::error::{deadline, LoadError};

/// Bytes at the start of each payload that carry its sequence number.
const SEQ_LEN: usize = 8;

/// Attempts at the whoami exchange before the route is declared not to carry datagrams.
const WHOAMI_TRIES: u32 = 3;

/// One client's datagram flow: its own socket and, through a proxy, its own association.
#[derive(Debug)]
pub struct DatagramFlow {
    socket: UdpSocket,
    /// Where datagrams go and replies come from: the origin, or the proxy's relay.
    peer: SocketAddr,
    origin: OriginAddr,
    /// Length of the SOCKS5 UDP header in front of each payload (0 when direct).
    header_len: usize,
    /// The next datagram: header, then the payload, which starts with the sequence number.
    out: Vec<u8>,
    buf: Vec<u8>,
    seq: u64,
    loss_timeout: Duration,
    /// Replies to earlier datagrams that arrived after those were counted lost.
    pub late_replies: u64,
    /// Keeps the association alive (SOCKS5 only): it ends when this closes.
    _control: Option<TcpStream>,
}

impl DatagramFlow {
    /// Opens a flow to `origin` sending `size`-byte payloads; a reply not back within
    /// `loss_timeout` counts as lost.
    pub async fn open(
        route: &Route,
        origin: OriginAddr,
        size: usize,
        loss_timeout: Duration,
    ) -> Result<DatagramFlow, LoadError> {
        let (socket, peer, control) = match (route.mode, route.proxy) {
            (Mode::Direct, _) => {
                let socket = bind(unspecified(origin.0.ip())).await?;
                (socket, origin.0, None)
            }
            (Mode::Socks5, Some(proxy)) => {
                let mut control = deadline("connect", route.timeout, async {
                    TcpStream::connect(proxy.0)
                        .await
                        .map_err(|source| LoadError::Connect {
                            addr: proxy.0,
                            source,
                        })
                })
                .await?;
                let _ = control.set_nodelay(true);
                let local = control.local_addr().map_err(LoadError::io("handshake"))?;
                let socket = bind(local.ip()).await?;
                // Declare the address the datagrams come from, as RFC 1928 asks.
                let from = socket.local_addr().map_err(LoadError::io("handshake"))?;
                let bound = deadline(
                    "handshake",
                    route.timeout,
                    socks5_request(&mut control, SOCKS5_UDP_ASSOCIATE, from),
                )
                .await?
                .ok_or_else(|| LoadError::Protocol {
                    what: "socks_reply",
                    detail: "UDP relay named by domain".into(),
                })?;
                // An unspecified relay address means "the address you reached me on".
                let relay = if bound.ip().is_unspecified() {
                    SocketAddr::new(proxy.0.ip(), bound.port())
                } else {
                    bound
                };
                (socket, relay, Some(control))
            }
            (Mode::Socks5, None) => {
                return Err(LoadError::Setup("--mode socks5 needs --proxy".into()))
            }
            (mode, _) => {
                return Err(LoadError::Setup(format!(
                    "datagrams go direct or through SOCKS5, not {mode:?}"
                )))
            }
        };
        let mut out = Vec::with_capacity(22 + size);
        if control.is_some() {
            out.extend_from_slice(&[0, 0, 0]);
            push_addr(&mut out, origin.0);
        }
        let header_len = out.len();
        out.extend((0..size.max(SEQ_LEN)).map(|i| (i % 251) as u8));
        Ok(DatagramFlow {
            socket,
            peer,
            origin,
            header_len,
            out,
            buf: vec![0u8; 65_536],
            seq: 0,
            loss_timeout,
            late_replies: 0,
            _control: control,
        })
    }

    /// Asks the origin which address and port it saw this flow's datagrams come from.
    pub async fn whoami(&mut self) -> Result<SocketAddr, LoadError> {
        let mut question = self.out[..self.header_len].to_vec();
        question.extend_from_slice(WHOAMI);
        let mut last = None;
        for _ in 0..WHOAMI_TRIES {
            self.send(&question).await?;
            match self.receive("whoami").await {
                Ok(at) => {
                    let text = std::str::from_utf8(&self.buf[at]).unwrap_or("");
                    return text.parse().map_err(|_| LoadError::Protocol {
                        what: "whoami_answer",
                        detail: text.chars().take(60).collect(),
                    });
                }
                Err(e @ LoadError::Timeout { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one try"))
    }

    /// Sends the next datagram and waits for its echo; a late echo of an earlier one is
    /// skipped (and counted), anything else that is not the exact echo is an error.
    pub async fn exchange(&mut self) -> Result<(), LoadError> {
        self.seq += 1;
        let h = self.header_len;
        self.out[h..h + SEQ_LEN].copy_from_slice(&self.seq.to_be_bytes());
        let out = std::mem::take(&mut self.out);
        let sent = self.send(&out).await;
        self.out = out;
        sent?;
        loop {
            let seq = self.seq;
            let at = self.receive("datagram").await?;
            let payload = &self.buf[at];
            if let Some(echoed) = payload.get(..SEQ_LEN) {
                let echoed = u64::from_be_bytes(echoed.try_into().expect("SEQ_LEN bytes"));
                if echoed < seq {
                    self.late_replies += 1;
                    continue;
                }
            }
            if payload != &self.out[h..] {
                return Err(LoadError::Protocol {
                    what: "echo",
                    detail: format!(
                        "{} bytes back for {} sent (sequence {seq})",
                        payload.len(),
                        self.out.len() - h
                    ),
                });
            }
            return Ok(());
        }
    }

    async fn send(&self, datagram: &[u8]) -> Result<(), LoadError> {
        self.socket
            .send_to(datagram, self.peer)
            .await
            .map(drop)
            .map_err(LoadError::io("datagram_send"))
    }

    /// The next datagram from the peer: where its payload lies in `buf`, after the SOCKS5
    /// header.
    async fn receive(&mut self, stage: &'static str) -> Result<Range<usize>, LoadError> {
        let (n, from) = deadline(stage, self.loss_timeout, async {
            self.socket
                .recv_from(&mut self.buf)
                .await
                .map_err(LoadError::io("datagram_receive"))
        })
        .await?;
        if from != self.peer {
            return Err(LoadError::Protocol {
                what: "datagram_source",
                detail: format!("a datagram from {from}, expected {}", self.peer),
            });
        }
        let datagram = &self.buf[..n];
        if self.header_len == 0 {
            return Ok(0..n);
        }
        let (named, offset) = parse_header(datagram).ok_or_else(|| LoadError::Protocol {
            what: "udp_reply_header",
            detail: format!("{:?}", &datagram[..n.min(12)]),
        })?;
        if named != Some(self.origin.0) {
            return Err(LoadError::Protocol {
                what: "udp_reply_header",
                detail: format!(
                    "the reply names {named:?}, not the origin {}",
                    self.origin.0
                ),
            });
        }
        Ok(offset..n)
    }
}

async fn bind(ip: IpAddr) -> Result<UdpSocket, LoadError> {
    UdpSocket::bind(SocketAddr::new(ip, 0))
        .await
        .map_err(|e| LoadError::Setup(format!("cannot bind a UDP socket on {ip}: {e}")))
}

fn unspecified(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    }
}

/// ATYP, address and port of RFC 1928.
fn push_addr(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            out.push(1);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// The address a SOCKS5 UDP header names (`None` for a domain) and where the payload starts;
/// `None` for a header that is short, fragmented or has reserved bits set.
fn parse_header(datagram: &[u8]) -> Option<(Option<SocketAddr>, usize)> {
    let [0, 0, 0, atyp, rest @ ..] = datagram else {
        return None;
    };
    let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    match atyp {
        1 if rest.len() >= 6 => {
            let ip: [u8; 4] = rest[..4].try_into().ok()?;
            Some((Some(SocketAddr::new(ip.into(), port(&rest[4..]))), 10))
        }
        4 if rest.len() >= 18 => {
            let ip: [u8; 16] = rest[..16].try_into().ok()?;
            Some((Some(SocketAddr::new(ip.into(), port(&rest[16..]))), 22))
        }
        3 => {
            let len = usize::from(*rest.first()?);
            (rest.len() >= 1 + len + 2).then_some((None, 4 + 1 + len + 2))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_written_is_read_back() {
        for addr in ["127.0.0.1:18091", "[::1]:443"] {
            let addr: SocketAddr = addr.parse().expect("valid");
            let mut d = vec![0, 0, 0];
            push_addr(&mut d, addr);
            let header = d.len();
            d.extend_from_slice(b"payload");
            assert_eq!(parse_header(&d), Some((Some(addr), header)));
        }
    }

    #[test]
    fn fragments_and_short_headers_are_refused() {
        assert_eq!(parse_header(&[0, 0, 1, 1, 127, 0, 0, 1, 0, 80]), None);
        assert_eq!(parse_header(&[0, 0, 0, 1, 127, 0]), None);
        assert_eq!(
            parse_header(&[0, 0, 0, 3, 1, b'a', 0, 80]),
            Some((None, 8)),
            "a domain: one byte of name, then the port"
        );
    }
}
