//! Sending UDP from a chosen source address.

use std::io;
use std::net::SocketAddr;

use egress_model::EgressAddr;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::DialError;

/// A UDP socket bound to `source` (port chosen by the kernel) with freebind, so a node can send
/// from any address of a range routed to it with an AnyIP route, like [`dial`](crate::dial).
/// One socket serves every destination: the kernel keeps the port for the socket's life.
pub fn bind_udp(source: EgressAddr) -> Result<UdpSocket, DialError> {
    let unavailable = |error| DialError::SourceUnavailable {
        source_addr: source,
        error,
    };
    let socket = bound_udp_socket(SocketAddr::new(source.0, 0)).map_err(unavailable)?;
    UdpSocket::from_std(socket.into()).map_err(unavailable)
}

fn bound_udp_socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    if addr.is_ipv6() {
        socket.set_freebind_v6(true)?;
        socket.set_only_v6(true)?;
    } else {
        socket.set_freebind_v4(true)?;
    }
    socket.bind(&addr.into())?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn datagrams_leave_from_the_bound_source() {
        let origin = UdpSocket::bind("127.0.0.1:0").await.expect("origin");
        let source = EgressAddr("127.0.0.1".parse().expect("valid"));
        let socket = bind_udp(source).expect("bind the source");
        let bound = socket.local_addr().expect("bound address");
        assert_eq!(bound.ip(), source.0);
        assert_ne!(bound.port(), 0);
        socket
            .send_to(b"ping", origin.local_addr().expect("origin address"))
            .await
            .expect("send");
        let mut buf = [0u8; 16];
        let (n, from) = origin.recv_from(&mut buf).await.expect("receive");
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(from, bound);
    }

    #[tokio::test]
    async fn freebind_binds_an_address_the_host_does_not_hold() {
        // TEST-NET-3: never configured on a test host; freebind makes the bind succeed anyway.
        let source = EgressAddr("203.0.113.77".parse().expect("valid"));
        let socket = bind_udp(source).expect("freebind accepts a foreign address");
        assert_eq!(socket.local_addr().expect("bound").ip(), source.0);
    }
}
