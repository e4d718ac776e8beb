//! What an on-ramp needs from the rest of the gateway: authorising a client, and opening a
//! connection to a target (decide → port budget → dial), which returns a session to log, or
//! a UDP association whose datagrams the gateway sends per destination.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use egress_model::TargetAddr;

/// A boxed future, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which protocol a client used to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRamp {
    /// HTTP CONNECT.
    HttpConnect,
    /// HTTP absolute-form request.
    HttpForward,
    /// SOCKS5 CONNECT (and UDP ASSOCIATE).
    Socks5,
    /// MASQUE CONNECT-UDP over HTTP/3.
    Masque,
}

impl OnRamp {
    /// Name in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            OnRamp::HttpConnect => "http_connect",
            OnRamp::HttpForward => "http_forward",
            OnRamp::Socks5 => "socks5",
            OnRamp::Masque => "masque",
        }
    }
}

/// The listener a client reached.
#[derive(Debug, Clone)]
pub struct Listener {
    /// Local address of the listener.
    pub local: SocketAddr,
    /// What it speaks: a TCP and a UDP (masque) listener may share an address.
    pub protocol: egress_model::ProxyProtocol,
}

/// A client the gateway accepted: its account and user. The names are shared with the
/// gateway's tables, so each connection holds them without a copy of their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// Account id.
    pub account: Arc<str>,
    /// User name, when credentials were used.
    pub user: Option<Arc<str>>,
    /// Proxy endpoint name.
    pub endpoint: Arc<str>,
}

/// Why a client was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Credentials are required and none were given.
    #[error("proxy credentials required")]
    CredentialsRequired,
    /// Unknown user or wrong password.
    #[error("bad proxy credentials")]
    BadCredentials,
    /// The client's address is not allowed on this listener.
    #[error("client address {0} is not authorised on this listener")]
    SourceNotAllowed(SocketAddr),
}

impl AuthError {
    /// Close reason for the log.
    pub fn close_reason(&self) -> &'static str {
        match self {
            AuthError::CredentialsRequired => "auth_required",
            AuthError::BadCredentials => "auth_failed",
            AuthError::SourceNotAllowed(_) => "source_not_allowed",
        }
    }
}

/// What kind of failure opening a connection was; the on-ramp maps it to a status or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFailure {
    /// Policy, settings or safety rules refuse the destination.
    NotAllowed,
    /// The port budget (or the kernel's ports) for this destination is used up.
    PortsExhausted,
    /// A limit on concurrent sessions was reached.
    TooManySessions,
    /// The name did not resolve.
    NameNotResolved,
    /// The destination refused.
    Refused,
    /// No route.
    Unreachable,
    /// Connect timed out.
    Timeout,
    /// Anything else on the gateway's side.
    Internal,
}

/// A failed open, with the close reason logged and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OpenError {
    /// Kind.
    pub failure: OpenFailure,
    /// Close reason in the log.
    pub close_reason: &'static str,
    /// Human-readable detail.
    pub message: String,
}

impl OpenError {
    /// HTTP status the proxy answers with.
    pub fn http_status(&self) -> u16 {
        match self.failure {
            OpenFailure::NotAllowed => 403,
            OpenFailure::PortsExhausted => 503,
            OpenFailure::TooManySessions => 429,
            OpenFailure::NameNotResolved | OpenFailure::Refused | OpenFailure::Unreachable => 502,
            OpenFailure::Timeout => 504,
            OpenFailure::Internal => 500,
        }
    }

    /// SOCKS5 reply code.
    pub fn socks_reply(&self) -> crate::socks5::Reply {
        use crate::socks5::Reply;
        match self.failure {
            OpenFailure::NotAllowed => Reply::NotAllowed,
            OpenFailure::PortsExhausted | OpenFailure::TooManySessions | OpenFailure::Internal => {
                Reply::GeneralFailure
            }
            OpenFailure::NameNotResolved | OpenFailure::Unreachable => Reply::HostUnreachable,
            OpenFailure::Refused => Reply::ConnectionRefused,
            OpenFailure::Timeout => Reply::TtlExpired,
        }
    }
}

/// A request to reach a target.
#[derive(Debug, Clone)]
pub struct OpenRequest {
    /// Who asks.
    pub who: Authorized,
    /// From where.
    pub peer: SocketAddr,
    /// Through which protocol.
    pub onramp: OnRamp,
    /// What.
    pub target: TargetAddr,
}

/// A request for a UDP association (SOCKS5 UDP ASSOCIATE, MASQUE CONNECT-UDP).
#[derive(Debug, Clone)]
pub struct AssociateRequest {
    /// Who asks.
    pub who: Authorized,
    /// The client's control connection.
    pub peer: SocketAddr,
    /// Through which protocol.
    pub onramp: OnRamp,
    /// The association's one target, when it has one (CONNECT-UDP): the gateway decides it
    /// before answering, so a refusal reaches the client as an error, and the association
    /// sends to nothing else. `None` (SOCKS5): each datagram names its destination.
    pub target: Option<TargetAddr>,
    /// A flow with no datagram either way for this long ends.
    pub idle_timeout: std::time::Duration,
}

/// A datagram a destination sent back, for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpReply {
    /// The destination that sent it.
    pub from: SocketAddr,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// A live association's upstream side and the replies its destinations send.
#[derive(Debug)]
pub struct Associated {
    /// Sends the client's datagrams.
    pub association: Box<dyn UdpAssociation>,
    /// Datagrams from destinations the association sent to (and only those).
    pub replies: tokio::sync::mpsc::Receiver<UdpReply>,
}

/// The gateway's side of a UDP association: each destination is decided, budgeted and logged
/// as a flow of its own.
pub trait UdpAssociation: Send + Sync + std::fmt::Debug {
    /// Sends one datagram to `target`. A refused destination is logged by the gateway and the
    /// datagram dropped: UDP has no per-datagram error to give the client.
    fn send<'a>(&'a self, target: TargetAddr, payload: &'a [u8]) -> BoxFuture<'a, ()>;

    /// Counts a datagram the on-ramp dropped before sending (`fragmented`, `malformed`,
    /// `foreign_source`).
    fn dropped(&self, reason: &'static str);

    /// Ends the association: every flow still open is logged with `close_reason`.
    fn finish(self: Box<Self>, close_reason: &str);
}

/// An open upstream connection and the session that logs it.
#[derive(Debug)]
pub struct Opened {
    /// The connection to the destination (local, or through a node of another location).
    pub stream: egress_net::Upstream,
    /// Finishing it writes the connection log record.
    pub session: Box<dyn Session>,
}

/// A live connection's log record, completed when the relay ends.
pub trait Session: Send + Sync + std::fmt::Debug {
    /// Records bytes and close reason; writes the log record.
    fn finish(self: Box<Self>, bytes_up: u64, bytes_down: u64, close_reason: &str);
}

/// The gateway behind the on-ramps.
pub trait Gateway: Send + Sync + 'static {
    /// Authorises a client on a listener, with Basic/RFC 1929 credentials when given.
    fn authorize<'a>(
        &'a self,
        listener: &'a Listener,
        peer: SocketAddr,
        credentials: Option<(&'a str, &'a str)>,
    ) -> BoxFuture<'a, Result<Authorized, AuthError>>;

    /// Whether a listener asks for credentials (SOCKS5 method selection, HTTP 407).
    fn requires_credentials(&self, listener: &Listener, peer: SocketAddr) -> bool;

    /// Decides, takes a port slot, dials. Refusals are logged by the gateway itself.
    fn open(&self, request: OpenRequest) -> BoxFuture<'_, Result<Opened, OpenError>>;

    /// Starts a UDP association for an authorised client (counted as one session). With a
    /// `target`, that target is resolved, decided and given its port slot first; a refusal is
    /// logged by the gateway and returned.
    fn associate(&self, request: AssociateRequest) -> BoxFuture<'_, Result<Associated, OpenError>>;

    /// Logs a connection that ended before `open` (bad request, failed authorisation).
    fn reject(&self, listener: &Listener, peer: SocketAddr, onramp: OnRamp, close_reason: &str);
}
