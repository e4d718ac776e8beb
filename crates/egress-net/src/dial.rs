//! Connecting from a chosen source address.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use egress_model::EgressAddr;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};

/// Why a connection to the destination could not be made; each maps to a close reason.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The source address cannot be bound (not routed to this host, or no AnyIP route).
    #[error("cannot bind source {source_addr}: {error}")]
    SourceUnavailable {
        /// The source.
        source_addr: EgressAddr,
        /// The OS error.
        error: io::Error,
    },
    /// The kernel has no free port for this source and destination.
    #[error("no free port from {source_addr} to {destination}")]
    PortsExhausted {
        /// The source.
        source_addr: EgressAddr,
        /// The destination.
        destination: SocketAddr,
    },
    /// The destination refused.
    #[error("{destination} refused the connection")]
    Refused {
        /// The destination.
        destination: SocketAddr,
    },
    /// No route to the destination.
    #[error("{destination} is unreachable: {error}")]
    Unreachable {
        /// The destination.
        destination: SocketAddr,
        /// The OS error.
        error: io::Error,
    },
    /// No answer within the connect timeout.
    #[error("connecting to {destination} timed out after {timeout:?}")]
    Timeout {
        /// The destination.
        destination: SocketAddr,
        /// The timeout.
        timeout: Duration,
    },
    /// Any other failure.
    #[error("connecting to {destination} failed: {error}")]
    Other {
        /// The destination.
        destination: SocketAddr,
        /// The OS error.
        error: io::Error,
    },
}

impl DialError {
    /// The close reason the connection log carries.
    pub fn close_reason(&self) -> &'static str {
        match self {
            DialError::SourceUnavailable { .. } => "egress_source_unavailable",
            DialError::PortsExhausted { .. } => "egress_port_allocation_error",
            DialError::Refused { .. } => "upstream_refused",
            DialError::Unreachable { .. } => "upstream_unreachable",
            DialError::Timeout { .. } => "upstream_connect_timeout",
            DialError::Other { .. } => "upstream_connect_error",
        }
    }
}

/// Connects to `destination` from `source`. The port is left to connect time
/// (`IP_BIND_ADDRESS_NO_PORT`), so the kernel picks it per 4-tuple; freebind lets a node send
/// from any address of a range routed to it with an AnyIP route.
pub async fn dial(
    source: EgressAddr,
    destination: SocketAddr,
    timeout: Duration,
) -> Result<TcpStream, DialError> {
    let socket = bound_socket(source).map_err(|error| DialError::SourceUnavailable {
        source_addr: source,
        error,
    })?;
    let socket = TcpSocket::from_std_stream(socket.into());
    match tokio::time::timeout(timeout, socket.connect(destination)).await {
        Err(_) => Err(DialError::Timeout {
            destination,
            timeout,
        }),
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(error)) => Err(classify(source, destination, error)),
    }
}

fn bound_socket(source: EgressAddr) -> io::Result<Socket> {
    let addr = SocketAddr::new(source.0, 0);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    nix::sys::socket::setsockopt(
        &socket,
        nix::sys::socket::sockopt::IpBindAddressNoPort,
        &true,
    )
    .map_err(io::Error::from)?;
    if addr.is_ipv6() {
        socket.set_freebind_v6(true)?;
        socket.set_only_v6(true)?;
    } else {
        socket.set_freebind_v4(true)?;
    }
    socket.bind(&addr.into())?;
    Ok(socket)
}

fn classify(source: EgressAddr, destination: SocketAddr, error: io::Error) -> DialError {
    match error.raw_os_error() {
        Some(nix::libc::EADDRNOTAVAIL) | Some(nix::libc::EADDRINUSE) => DialError::PortsExhausted {
            source_addr: source,
            destination,
        },
        Some(nix::libc::ECONNREFUSED) => DialError::Refused { destination },
        Some(nix::libc::ENETUNREACH) | Some(nix::libc::EHOSTUNREACH) => {
            DialError::Unreachable { destination, error }
        }
        _ => DialError::Other { destination, error },
    }
}
