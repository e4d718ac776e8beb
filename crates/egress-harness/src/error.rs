//! What can go wrong while building or tearing down a lab.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Why a lab, a namespace or a helper could not do what it was asked.
///
/// Each variant names the input it failed on, so a failing end-to-end test says which command,
/// namespace or address broke without re-running it under a debugger.
#[derive(thiserror::Error)]
pub enum HarnessError {
    /// Network namespaces need `CAP_SYS_ADMIN`; tests must fail, not skip, without it.
    #[error("egress-harness needs root (network namespaces): run as root (euid is {euid})")]
    NotRoot { euid: u32 },

    /// The `ip` tool of iproute2 is not on `PATH`.
    #[error("ip not found: apt-get install iproute2")]
    IpMissing,

    /// A command ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
    },

    /// A command could not be started at all.
    #[error("could not start `{command}`: {source}")]
    CommandNotStarted { command: String, source: io::Error },

    /// A namespace role is empty, too long, uses characters other than `[a-z0-9_-]` or is taken.
    #[error("namespace role {role:?} in lab {lab}: {reason}")]
    BadRole {
        lab: String,
        role: String,
        reason: &'static str,
    },

    /// A prefix given to the topology builder is not `ADDRESS/LENGTH`.
    #[error("egress prefix {prefix:?} of gateway {gateway:?}: {reason}")]
    BadPrefix {
        gateway: String,
        prefix: String,
        reason: &'static str,
    },

    /// The topology spec itself cannot be built (no gateway, too many, duplicate roles).
    #[error("topology: {reason}")]
    BadTopology { reason: String },

    /// The calling thread could not enter a namespace.
    #[error("entering namespace {namespace}: {source}")]
    EnterNamespace {
        namespace: String,
        source: io::Error,
    },

    /// A socket or file operation inside a namespace failed.
    #[error("{action} in namespace {namespace}: {source}")]
    Io {
        namespace: String,
        action: String,
        source: io::Error,
    },

    /// Talking to a whoami origin failed.
    #[error("asking whoami: {source}")]
    Whoami { source: io::Error },

    /// Fetching bytes from a bulk origin failed.
    #[error("fetching from a bulk origin: {source}")]
    Bulk { source: io::Error },

    /// A topology method was given a gateway role the topology does not have.
    #[error("no gateway {role:?} in this topology")]
    UnknownGateway { role: String },

    /// A backbone operation on a gateway that has no backbone link (single-gateway topology).
    #[error("gateway {gateway:?} has no backbone link: only topologies of two or more gateways have a backbone")]
    NoBackbone { gateway: String },

    /// An interface's byte counters could not be read.
    #[error("byte counters of {dev} in namespace {namespace}: {reason}")]
    LinkCounters {
        namespace: String,
        dev: String,
        reason: String,
    },

    /// An origin answered something that is not an IP address.
    #[error("whoami answer {answer:?} is not an IP address")]
    BadWhoamiAnswer { answer: String },

    /// A SOCKS5 proxy broke off or refused the UDP ASSOCIATE exchange.
    #[error("SOCKS5 UDP ASSOCIATE with {proxy}: {reason}")]
    Socks5Associate { proxy: SocketAddr, reason: String },

    /// A TLS or QUIC configuration, or a certificate, could not be built.
    #[error("{what}: {reason}")]
    QuicSetup { what: &'static str, reason: String },

    /// An HTTP/3 exchange with an origin failed at one stage.
    #[error("HTTP/3 to {server}, {stage}: {reason}")]
    Http3 {
        server: SocketAddr,
        stage: H3Stage,
        reason: String,
    },

    /// A MASQUE proxy could not be reached, or broke off the CONNECT-UDP exchange.
    #[error("CONNECT-UDP through {proxy}: {reason}")]
    ConnectUdp { proxy: SocketAddr, reason: String },

    /// A MASQUE proxy answered the CONNECT-UDP request with an error status.
    #[error("CONNECT-UDP through {proxy} refused with {status}: {body:?}")]
    ConnectUdpRefused {
        proxy: SocketAddr,
        status: u16,
        /// Response headers (lowercase names), in order.
        headers: Vec<(String, String)>,
        body: String,
    },
}

/// Where an HTTP/3 exchange stopped, so a test can tell "refused before QUIC came up" from a
/// broken origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H3Stage {
    /// The QUIC handshake did not complete (no answer, or the peer closed).
    Handshake,
    /// The HTTP/3 connection, request or response head failed.
    Request,
    /// The response body failed, or the status was not 200.
    Response,
}

impl fmt::Display for H3Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            H3Stage::Handshake => "QUIC handshake",
            H3Stage::Request => "request",
            H3Stage::Response => "response",
        })
    }
}

// Tests surface errors through `expect` and `?`, which print `Debug`: show the sentence, not the
// struct, so "needs root" reads as such in a failing test's output.
impl fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
