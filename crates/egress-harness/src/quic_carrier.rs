//! QUIC over a datagram carrier: a quinn client endpoint whose packets do not go to the
//! network directly but through something that carries datagrams to a target and back — a
//! SOCKS5 UDP association ([`Socks5UdpCarrier`](crate::Socks5UdpCarrier)) today, a CONNECT-UDP
//! stream later. The carrier only moves payloads; this module adapts it to quinn.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, Endpoint, EndpointConfig, TokioRuntime, UdpPoller};

use crate::HarnessError;

/// A future that resolves once the carrier may take another datagram.
pub type Writable = Pin<Box<dyn Future<Output = io::Result<()>> + Send + Sync>>;

/// Something that carries datagrams to targets and brings their answers back.
///
/// Targets are plain socket addresses (IPv4 canonical, never IPv4-mapped): the carrier names
/// them however its protocol does.
pub trait DatagramCarrier: Send + Sync + fmt::Debug + 'static {
    /// Sends `payload` to `target`, or fails with `WouldBlock` when the carrier is full now.
    fn try_send_to(&self, target: SocketAddr, payload: &[u8]) -> io::Result<()>;

    /// Resolves when a send may succeed again; each caller gets a future of its own.
    fn writable(self: Arc<Self>) -> Writable;

    /// Receives one datagram into `buf`: its length and the target that sent it.
    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>>;
}

/// A quinn client endpoint whose datagrams travel through `carrier`. Call it inside a Tokio
/// runtime: the endpoint's driver is a task of that runtime, and the carrier lives as long as
/// the endpoint and its connections do.
pub fn quic_client_endpoint<C: DatagramCarrier>(carrier: C) -> Result<Endpoint, HarnessError> {
    Endpoint::new_with_abstract_socket(
        EndpointConfig::default(),
        None,
        Arc::new(CarriedSocket {
            carrier: Arc::new(carrier),
        }),
        Arc::new(TokioRuntime),
    )
    .map_err(|e| HarnessError::QuicSetup {
        what: "QUIC endpoint over a datagram carrier",
        reason: e.to_string(),
    })
}

/// quinn's view of a carrier: a UDP socket.
#[derive(Debug)]
struct CarriedSocket<C> {
    carrier: Arc<C>,
}

impl<C: DatagramCarrier> AsyncUdpSocket for CarriedSocket<C> {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(CarrierPoller {
            carrier: Arc::clone(&self.carrier),
            pending: None,
        })
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        let target = SocketAddr::new(
            transmit.destination.ip().to_canonical(),
            transmit.destination.port(),
        );
        // quinn batches only when max_transmit_segments() > 1, which it is not here; split
        // anyway so a batch never reaches the target as one datagram.
        let segment = transmit.segment_size.unwrap_or(transmit.contents.len());
        for datagram in transmit.contents.chunks(segment.max(1)) {
            self.carrier.try_send_to(target, datagram)?;
        }
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let (Some(buf), Some(meta)) = (bufs.first_mut(), meta.first_mut()) else {
            return Poll::Ready(Ok(0));
        };
        let (len, from) = ready!(self.carrier.poll_recv_from(cx, buf))?;
        *meta = RecvMeta {
            addr: dual_stack(from),
            len,
            stride: len,
            ecn: None,
            dst_ip: None,
        };
        Poll::Ready(Ok(1))
    }

    /// A carrier reaches targets of both families, so the endpoint is dual-stack: quinn then
    /// accepts IPv4 and IPv6 servers and hands IPv4 ones over IPv4-mapped.
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0))
    }
}

/// How a dual-stack endpoint names `addr`: IPv4 as IPv4-mapped IPv6, as its peers are stored.
fn dual_stack(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(v4) => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
        v6 @ SocketAddr::V6(_) => v6,
    }
}

/// Waits for the carrier to take datagrams again, with a future of its own per poller, so
/// several connections may wait at once.
struct CarrierPoller<C> {
    carrier: Arc<C>,
    pending: Option<Writable>,
}

impl<C> fmt::Debug for CarrierPoller<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CarrierPoller")
            .field("waiting", &self.pending.is_some())
            .finish()
    }
}

impl<C: DatagramCarrier> UdpPoller for CarrierPoller<C> {
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let pending = this
            .pending
            .get_or_insert_with(|| Arc::clone(&this.carrier).writable());
        let result = ready!(pending.as_mut().poll(cx));
        this.pending = None;
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_peers_are_mapped_and_ipv6_kept() {
        let v4: SocketAddr = "198.51.100.80:443".parse().expect("address");
        let v6: SocketAddr = "[2001:db8::1]:443".parse().expect("address");
        assert_eq!(
            dual_stack(v4),
            "[::ffff:198.51.100.80]:443"
                .parse::<SocketAddr>()
                .expect("address")
        );
        assert_eq!(dual_stack(v6), v6);
    }
}
