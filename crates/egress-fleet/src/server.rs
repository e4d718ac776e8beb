//! The fleet listener: accepts peer nodes over mutual TLS and HTTP/2, answers health probes,
//! and opens forwarded connections (extended CONNECT, RFC 8441) and UDP flows (`connect-udp`,
//! relayed in [`crate::udp::relay`]) from the addresses this node holds.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_rustls::TlsAcceptor;

use crate::membership::Membership;
use crate::peer::{CONNECTION_WINDOW, MAX_FRAME, SEND_BUFFER, STREAM_WINDOW};
use crate::wire::{self, ForwardRequest, TunnelKind};

/// A boxed future, as the dialer trait returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A connection the egress node opened for a peer.
#[derive(Debug)]
pub struct Dialled {
    /// The connection to the destination.
    pub stream: TcpStream,
    /// Held while the connection lives (the port budget slot).
    pub guard: Box<dyn std::fmt::Debug + Send + Sync>,
}

/// A UDP socket the egress node bound for a peer's flow.
#[derive(Debug)]
pub struct BoundUdp {
    /// Bound to the requested source (any port); the listener connects it to the destination.
    pub socket: UdpSocket,
    /// Held while the flow lives (the port budget slot).
    pub guard: Box<dyn std::fmt::Debug + Send + Sync>,
}

/// Why the egress node did not open a forwarded connection.
#[derive(Debug, Clone)]
pub struct ForwardRefusal {
    /// HTTP status for the ingress node.
    pub status: u16,
    /// Close reason the ingress node logs.
    pub close_reason: &'static str,
    /// For the egress node's log line.
    pub message: String,
}

/// Opens connections for peers: checks the source is held here, applies the port budget, dials.
pub trait ForwardDialer: Send + Sync + 'static {
    /// Dials for `peer`.
    fn dial<'a>(
        &'a self,
        peer: &'a str,
        request: &'a ForwardRequest,
    ) -> BoxFuture<'a, Result<Dialled, ForwardRefusal>>;

    /// Binds a UDP socket to `request.source` for `peer`'s flow to `request.destination`, with
    /// the same checks and port budget as [`ForwardDialer::dial`].
    fn bind_udp<'a>(
        &'a self,
        peer: &'a str,
        request: &'a ForwardRequest,
    ) -> BoxFuture<'a, Result<BoundUdp, ForwardRefusal>>;
}

/// Settings of the fleet listener.
#[derive(Debug, Clone, Copy)]
pub struct ServeSettings {
    /// Time allowed for a peer's TLS handshake.
    pub handshake_timeout: Duration,
    /// A forwarded tunnel with no byte either way for this long is closed.
    pub idle_timeout: Duration,
    /// A forwarded UDP flow with no datagram either way for this long is closed. The ingress
    /// node ends idle flows itself; this is the backstop, so make it longer than the ingress's.
    pub udp_idle_timeout: Duration,
}

/// Accepts peers until the task is dropped; dropping it also closes every peer connection.
pub async fn serve(
    listener: TcpListener,
    membership: Arc<Membership>,
    dialer: Arc<dyn ForwardDialer>,
    settings: ServeSettings,
) {
    let acceptor = TlsAcceptor::from(Arc::clone(&membership.tls().server));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next() => continue,
        };
        let (tcp, addr) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "fleet listener accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let membership = Arc::clone(&membership);
        let dialer = Arc::clone(&dialer);
        connections.spawn(async move {
            serve_peer(tcp, addr, acceptor, membership, dialer, settings).await;
        });
    }
}

async fn serve_peer(
    tcp: TcpStream,
    addr: SocketAddr,
    acceptor: TlsAcceptor,
    membership: Arc<Membership>,
    dialer: Arc<dyn ForwardDialer>,
    settings: ServeSettings,
) {
    let tls = match tokio::time::timeout(settings.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::warn!(%addr, error = %e, close_reason = "fleet_tls_error", "fleet peer refused");
            return;
        }
        Err(_) => {
            tracing::warn!(%addr, close_reason = "fleet_tls_timeout", "fleet peer refused");
            return;
        }
    };
    let peer = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|cert| membership.identify(cert));
    let Some(peer) = peer else {
        tracing::warn!(
            %addr,
            close_reason = "fleet_unknown_peer",
            "fleet peer's certificate names no node of the configuration"
        );
        return;
    };
    let peer: Arc<str> = peer.into();
    let service = service_fn(move |request| {
        let (peer, membership, dialer) = (
            Arc::clone(&peer),
            Arc::clone(&membership),
            Arc::clone(&dialer),
        );
        async move { Ok::<_, Infallible>(answer(request, &peer, &membership, dialer, settings).await) }
    });
    let served = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .enable_connect_protocol()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .max_send_buf_size(SEND_BUFFER)
        .keep_alive_interval(Duration::from_secs(1))
        .keep_alive_timeout(Duration::from_secs(3))
        .serve_connection(TokioIo::new(tls), service)
        .await;
    if let Err(e) = served {
        tracing::debug!(%addr, error = %e, "fleet peer connection ended");
    }
}

async fn answer(
    request: Request<Incoming>,
    peer: &str,
    membership: &Membership,
    dialer: Arc<dyn ForwardDialer>,
    settings: ServeSettings,
) -> Response<Empty<Bytes>> {
    if request.method() == Method::GET && request.uri().path() == wire::HEALTH_PATH {
        return status(StatusCode::OK, None).with_header(wire::H_NODE, membership.me());
    }
    let kind = request
        .extensions()
        .get::<hyper::ext::Protocol>()
        .and_then(|p| TunnelKind::from_protocol(p.as_str()))
        .filter(|_| request.method() == Method::CONNECT);
    let Some(kind) = kind else {
        return status(StatusCode::NOT_FOUND, Some("fleet_unknown_request"));
    };
    let forward = match ForwardRequest::from_headers(request.headers()) {
        Ok(forward) => forward,
        Err(e) => {
            tracing::warn!(peer, error = %e, close_reason = "fleet_bad_request", "forward refused");
            return status(StatusCode::BAD_REQUEST, Some("fleet_bad_request"));
        }
    };
    match kind {
        TunnelKind::Tcp => answer_tcp(request, peer, forward, dialer, settings).await,
        TunnelKind::Udp => {
            crate::udp::relay::answer(request, peer, forward, dialer, settings).await
        }
    }
}

async fn answer_tcp(
    mut request: Request<Incoming>,
    peer: &str,
    forward: ForwardRequest,
    dialer: Arc<dyn ForwardDialer>,
    settings: ServeSettings,
) -> Response<Empty<Bytes>> {
    let dialled = match dialer.dial(peer, &forward).await {
        Ok(dialled) => dialled,
        Err(refusal) => return refused(peer, &forward, &refusal),
    };
    let bound = dialled.stream.local_addr().ok();
    let on_upgrade = hyper::upgrade::on(&mut request);
    let peer = peer.to_owned();
    tokio::spawn(async move {
        let Dialled { mut stream, guard } = dialled;
        match on_upgrade.await {
            Ok(upgraded) => {
                let mut tunnel = TokioIo::new(upgraded);
                let outcome =
                    egress_net::relay_streams(&mut tunnel, &mut stream, settings.idle_timeout)
                        .await;
                tracing::debug!(
                    peer,
                    session = %forward.session,
                    bytes_up = outcome.bytes_up,
                    bytes_down = outcome.bytes_down,
                    close_reason = outcome.close_reason,
                    "forwarded connection ended"
                );
            }
            Err(e) => tracing::warn!(peer, error = %e, "forwarded connection never started"),
        }
        drop(guard);
    });
    let response = status(StatusCode::OK, None);
    match bound {
        Some(bound) => response.with_header(wire::H_BOUND, &bound.to_string()),
        None => response,
    }
}

/// Logs a refusal and answers it with its status and close reason.
pub(crate) fn refused(
    peer: &str,
    forward: &ForwardRequest,
    refusal: &ForwardRefusal,
) -> Response<Empty<Bytes>> {
    tracing::info!(
        peer,
        session = %forward.session,
        source = %forward.source,
        destination = %forward.destination,
        close_reason = refusal.close_reason,
        "forward refused: {}",
        refusal.message
    );
    let code = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_GATEWAY);
    status(code, Some(refusal.close_reason))
}

pub(crate) fn status(
    code: StatusCode,
    close_reason: Option<&'static str>,
) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = code;
    if let Some(reason) = close_reason {
        response
            .headers_mut()
            .insert(wire::H_CLOSE_REASON, HeaderValue::from_static(reason));
    }
    response
}

pub(crate) trait WithHeader {
    fn with_header(self, name: &'static str, value: &str) -> Self;
}

impl WithHeader for Response<Empty<Bytes>> {
    fn with_header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers_mut().insert(name, value);
        }
        self
    }
}
