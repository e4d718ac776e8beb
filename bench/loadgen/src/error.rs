//! Why one operation of the load generator failed, and the short kind it is counted under.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A failed connection, handshake or exchange. Each variant names the stage and the input.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The TCP connection to the proxy (or the origin, when direct) failed.
    #[error("connect to {addr} failed: {source}")]
    Connect {
        /// Where we connected.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// A stage did not finish in time.
    #[error("{stage} timed out after {timeout:?}")]
    Timeout {
        /// Which stage.
        stage: &'static str,
        /// The limit.
        timeout: Duration,
    },
    /// The HTTP proxy answered CONNECT with something other than 2xx.
    #[error("proxy answered CONNECT {target} with status {status}")]
    ConnectStatus {
        /// The tunnel target.
        target: SocketAddr,
        /// The status.
        status: u16,
    },
    /// The SOCKS5 proxy refused the method or the CONNECT.
    #[error("SOCKS5 proxy answered {reply} to CONNECT {target}")]
    SocksReply {
        /// The tunnel target.
        target: SocketAddr,
        /// RFC 1928 reply code (255: no acceptable method).
        reply: u8,
    },
    /// The origin (through the proxy) answered with an unexpected status.
    #[error("GET {path} answered {status}")]
    Status {
        /// Request path.
        path: String,
        /// The status.
        status: u16,
    },
    /// Bytes that break HTTP or SOCKS5.
    #[error("bad {what}: {detail}")]
    Protocol {
        /// What was being read.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The peer closed before a whole message.
    #[error("{stage}: connection closed early")]
    Closed {
        /// Which stage.
        stage: &'static str,
    },
    /// A read or write failed.
    #[error("{stage}: {source}")]
    Io {
        /// Which stage.
        stage: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The origin saw datagrams from another source than the one expected of the route.
    #[error("the origin saw the datagrams come from {seen}, expected the source {expected}")]
    WrongSource {
        /// The source the route should use (the proxy's egress address, or the client's).
        expected: IpAddr,
        /// The address and port the origin saw.
        seen: SocketAddr,
    },
    /// Anything about the run itself (arguments, files, no connection at all).
    #[error("{0}")]
    Setup(String),
}

impl LoadError {
    /// The key this error is counted under in the JSON output.
    pub fn kind(&self) -> String {
        match self {
            LoadError::Connect { source, .. } => match source.raw_os_error() {
                Some(nix::libc::ECONNREFUSED) => "connect_refused".into(),
                Some(nix::libc::EADDRNOTAVAIL) => "connect_addr_not_available".into(),
                Some(nix::libc::EMFILE) | Some(nix::libc::ENFILE) => "too_many_open_files".into(),
                _ => "connect_error".into(),
            },
            LoadError::Timeout { stage, .. } => format!("timeout_{stage}"),
            LoadError::ConnectStatus { status, .. } => format!("connect_status_{status}"),
            LoadError::SocksReply { reply, .. } => format!("socks_reply_{reply}"),
            LoadError::Status { status, .. } => format!("http_status_{status}"),
            LoadError::Protocol { what, .. } => format!("bad_{what}"),
            LoadError::Closed { stage } => format!("closed_{stage}"),
            LoadError::Io { source, stage } => match source.kind() {
                io::ErrorKind::ConnectionReset => format!("reset_{stage}"),
                _ => format!("io_{stage}"),
            },
            LoadError::WrongSource { .. } => "wrong_egress_source".into(),
            LoadError::Setup(_) => "setup".into(),
        }
    }

    pub fn io(stage: &'static str) -> impl FnOnce(io::Error) -> LoadError {
        move |source| LoadError::Io { stage, source }
    }
}

/// Runs `work` with a deadline; a late stage becomes [`LoadError::Timeout`].
pub async fn deadline<T>(
    stage: &'static str,
    timeout: Duration,
    work: impl std::future::Future<Output = Result<T, LoadError>>,
) -> Result<T, LoadError> {
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(LoadError::Timeout { stage, timeout }))
}
