//! One link to a peer node: a single HTTP/2 connection inside mutual TLS that carries every
//! tunnel and forwarded UDP flow to that node and its health probes; reconnected on demand.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use egress_model::LocationCode;
use egress_net::Upstream;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::Empty;
use hyper::client::conn::http2::{self, SendRequest};
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;

use crate::udp::tunnel::UdpTunnel;
use crate::wire::{self, ForwardRequest, TunnelKind};
use crate::FleetError;

/// Flow-control window of each tunnel: large enough that one tunnel fills a fast link.
pub(crate) const STREAM_WINDOW: u32 = 16 * 1024 * 1024;
/// Flow-control window of a whole inter-node connection.
pub(crate) const CONNECTION_WINDOW: u32 = 64 * 1024 * 1024;
/// Largest HTTP/2 frame: fewer frames per bulk byte.
pub(crate) const MAX_FRAME: u32 = 256 * 1024;
/// Bytes a tunnel may queue for sending before its writer waits.
pub(crate) const SEND_BUFFER: usize = 4 * 1024 * 1024;
/// Consecutive failed probes after which a peer counts as down.
const DOWN_AFTER: u32 = 2;

/// A peer node as configuration names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSpec {
    /// Node id (its certificate's name).
    pub id: String,
    /// Its location.
    pub location: LocationCode,
    /// Its fleet listener.
    pub address: SocketAddr,
}

/// The link to one peer.
#[derive(Debug)]
pub struct PeerLink {
    spec: PeerSpec,
    tls: Arc<ClientConfig>,
    timeouts: LinkTimeouts,
    sender: Mutex<Option<SendRequest<Empty<Bytes>>>>,
    up: AtomicBool,
    /// Whether a probe has finished since the link was made (before that `up` is a guess).
    probed: AtomicBool,
    failures: AtomicU32,
}

/// Time limits of a link.
#[derive(Debug, Clone, Copy)]
pub struct LinkTimeouts {
    /// TCP connect plus TLS and HTTP/2 handshakes.
    pub connect: Duration,
    /// A health probe's answer.
    pub probe: Duration,
    /// The egress node's answer to a forwarded connection (it dials meanwhile).
    pub open: Duration,
}

impl PeerLink {
    /// A link that connects on first use; it starts down until a probe answers.
    pub fn new(spec: PeerSpec, tls: Arc<ClientConfig>, timeouts: LinkTimeouts) -> PeerLink {
        PeerLink {
            spec,
            tls,
            timeouts,
            sender: Mutex::new(None),
            up: AtomicBool::new(false),
            probed: AtomicBool::new(false),
            failures: AtomicU32::new(DOWN_AFTER),
        }
    }

    /// The peer.
    pub fn spec(&self) -> &PeerSpec {
        &self.spec
    }

    /// Whether the last probes answered.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Whether this node has probed the peer yet.
    pub fn is_probed(&self) -> bool {
        self.probed.load(Ordering::Relaxed)
    }

    /// Probes once and updates the up/down state; returns the new state.
    pub async fn probe(&self) -> bool {
        let ok = tokio::time::timeout(self.timeouts.probe, self.health())
            .await
            .is_ok_and(|r| r.is_ok());
        self.probed.store(true, Ordering::Relaxed);
        if ok {
            self.failures.store(0, Ordering::Relaxed);
            self.up.store(true, Ordering::Relaxed);
        } else {
            let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
            if failures >= DOWN_AFTER {
                self.up.store(false, Ordering::Relaxed);
            }
            // A connection that stopped answering is not reused.
            if let Ok(mut sender) = self.sender.try_lock() {
                sender.take();
            }
        }
        self.is_up()
    }

    async fn health(&self) -> Result<(), FleetError> {
        let mut sender = self.connection().await?;
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!("https://{}{}", self.spec.id, wire::HEALTH_PATH))
            .body(Empty::new())
            .map_err(|e| FleetError::internal(&self.spec.id, e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| FleetError::link(&self.spec.id, e))?;
        if response.status() == StatusCode::OK {
            Ok(())
        } else {
            Err(FleetError::Link {
                peer: self.spec.id.clone(),
                detail: format!("health probe answered {}", response.status()),
            })
        }
    }

    /// Opens a tunnel through the peer: it dials `request.destination` from `request.source`.
    pub async fn open(&self, request: &ForwardRequest) -> Result<Upstream, FleetError> {
        let (stream, egress) = self.open_stream(TunnelKind::Tcp, request).await?;
        Ok(Upstream::Forwarded {
            stream: Box::new(stream),
            egress,
        })
    }

    /// Opens a UDP flow through the peer: it sends to `request.destination` from
    /// `request.source` and relays that destination's replies.
    pub async fn open_udp(&self, request: &ForwardRequest) -> Result<UdpTunnel, FleetError> {
        let (stream, egress) = self.open_stream(TunnelKind::Udp, request).await?;
        Ok(UdpTunnel::start(stream, egress))
    }

    /// Sends the extended CONNECT and waits for the peer's answer: the stream and the address
    /// the peer reported it bound, or its refusal.
    pub(crate) async fn open_stream(
        &self,
        kind: TunnelKind,
        request: &ForwardRequest,
    ) -> Result<(TokioIo<Upgraded>, Option<SocketAddr>), FleetError> {
        let work = async {
            let mut sender = self.connection().await?;
            let mut builder = Request::builder()
                .method(Method::CONNECT)
                .uri(format!("https://{}{}", self.spec.id, kind.path()))
                .extension(hyper::ext::Protocol::from_static(kind.protocol()));
            if let Some(headers) = builder.headers_mut() {
                request.to_headers(headers);
                if kind == TunnelKind::Udp {
                    headers.insert(wire::H_CAPSULE_PROTOCOL, HeaderValue::from_static("?1"));
                }
            }
            let http_request = builder
                .body(Empty::new())
                .map_err(|e| FleetError::internal(&self.spec.id, e))?;
            let response = sender
                .send_request(http_request)
                .await
                .map_err(|e| FleetError::link(&self.spec.id, e))?;
            if response.status() != StatusCode::OK {
                let close_reason = wire::close_reason(
                    response
                        .headers()
                        .get(wire::H_CLOSE_REASON)
                        .and_then(|v| v.to_str().ok()),
                );
                return Err(FleetError::Refused {
                    peer: self.spec.id.clone(),
                    status: response.status().as_u16(),
                    close_reason,
                });
            }
            let egress = wire::bound(response.headers());
            let upgraded = hyper::upgrade::on(response)
                .await
                .map_err(|e| FleetError::link(&self.spec.id, e))?;
            Ok((TokioIo::new(upgraded), egress))
        };
        tokio::time::timeout(self.timeouts.open + self.timeouts.connect, work)
            .await
            .map_err(|_| FleetError::Timeout {
                peer: self.spec.id.clone(),
            })?
    }

    /// The open HTTP/2 connection, or a new one.
    async fn connection(&self) -> Result<SendRequest<Empty<Bytes>>, FleetError> {
        let mut slot = self.sender.lock().await;
        if let Some(sender) = slot.as_ref() {
            if !sender.is_closed() {
                return Ok(sender.clone());
            }
        }
        let sender = tokio::time::timeout(self.timeouts.connect, self.connect())
            .await
            .map_err(|_| FleetError::Timeout {
                peer: self.spec.id.clone(),
            })??;
        *slot = Some(sender.clone());
        Ok(sender)
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, FleetError> {
        let peer = &self.spec.id;
        let tcp = TcpStream::connect(self.spec.address)
            .await
            .map_err(|e| FleetError::link(peer, e))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(peer.clone()).map_err(|e| FleetError::internal(peer, e))?;
        let tls = TlsConnector::from(Arc::clone(&self.tls))
            .connect(name, tcp)
            .await
            .map_err(|e| FleetError::link(peer, e))?;
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_frame_size(MAX_FRAME)
            .max_send_buf_size(SEND_BUFFER)
            .keep_alive_interval(Duration::from_secs(1))
            .keep_alive_timeout(self.timeouts.probe.max(Duration::from_secs(1)) * 2)
            .keep_alive_while_idle(true)
            .handshake(TokioIo::new(tls))
            .await
            .map_err(|e| FleetError::link(peer, e))?;
        let id = peer.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(peer = %id, error = %e, "fleet link closed");
            }
        });
        Ok(sender)
    }
}
