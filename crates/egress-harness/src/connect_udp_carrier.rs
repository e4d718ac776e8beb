//! A MASQUE CONNECT-UDP tunnel (RFC 9298) as a [`DatagramCarrier`]: an HTTP/3 connection to
//! the proxy, one `CONNECT` request with `:protocol connect-udp` naming the target, and the
//! target's datagrams as HTTP datagrams of that request (RFC 9297): QUIC DATAGRAM frames, and
//! DATAGRAM capsules on the request stream when the proxy sends those.
//!
//! Written apart from the gateway's codec (`egress-masque`), so a test client does not share
//! its bugs.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use quinn::crypto::rustls::QuicClientConfig;
use quinn::{ClientConfig, Endpoint, EndpointConfig, TokioRuntime, TransportConfig};
use rustls::pki_types::CertificateDer;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::h3_origin::{tls_provider, ALPN_H3};
use crate::quic_carrier::{DatagramCarrier, Writable};
use crate::{HarnessError, Netns, H3_STAGE_DEADLINE};

/// How a test reaches a MASQUE proxy.
#[derive(Debug, Clone)]
pub struct MasqueProxy {
    /// The proxy's UDP address.
    pub addr: SocketAddr,
    /// The name its certificate is issued for.
    pub server_name: String,
    /// Its certificate, the one root the client trusts.
    pub certificate: CertificateDer<'static>,
    /// `Proxy-Authorization: Basic` credentials, when given.
    pub credentials: Option<(String, String)>,
}

/// A self-signed certificate for a test proxy, as PEM files want it and as clients trust it.
#[derive(Debug, Clone)]
pub struct SelfSignedCertificate {
    pub certificate_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl SelfSignedCertificate {
    /// A fresh certificate (and key) for `name`.
    pub fn generate(name: &str) -> Result<SelfSignedCertificate, HarnessError> {
        let issued = rcgen::generate_simple_self_signed(vec![name.to_owned()]).map_err(|e| {
            HarnessError::QuicSetup {
                what: "a self-signed certificate",
                reason: e.to_string(),
            }
        })?;
        Ok(SelfSignedCertificate {
            certificate_pem: issued.cert.pem(),
            key_pem: issued.signing_key.serialize_pem(),
            der: issued.cert.der().clone(),
        })
    }
}

/// An open CONNECT-UDP tunnel to one target. Dropping it closes the proxy connection.
#[derive(Debug)]
pub struct ConnectUdpCarrier {
    target: SocketAddr,
    connection: quinn::Connection,
    stream_id: u64,
    /// UDP payloads from the target, from datagrams and capsules alike.
    arriving: Mutex<mpsc::Receiver<Vec<u8>>>,
    /// Capsules to write on the request stream (when the proxy takes no QUIC datagrams).
    capsules: mpsc::UnboundedSender<Bytes>,
    tasks: Vec<JoinHandle<()>>,
    local: SocketAddr,
    _endpoint: Endpoint,
}

impl Drop for ConnectUdpCarrier {
    fn drop(&mut self) {
        self.connection.close(H3_NO_ERROR.into(), b"done");
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// UDP payloads queued for the client before more are dropped.
const ARRIVING: usize = 256;

impl ConnectUdpCarrier {
    /// Connects to `proxy` from a socket in `ns` and asks for a tunnel to `target`; fails with
    /// [`HarnessError::ConnectUdpRefused`] when the proxy answers anything but 2xx. Call it
    /// inside a Tokio runtime.
    pub async fn open(
        ns: &Netns,
        proxy: &MasqueProxy,
        target: SocketAddr,
    ) -> Result<ConnectUdpCarrier, HarnessError> {
        let failed = |reason: String| HarnessError::ConnectUdp {
            proxy: proxy.addr,
            reason,
        };
        let any = match proxy.addr {
            SocketAddr::V4(_) => IpAddr::from(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::from(Ipv6Addr::UNSPECIFIED),
        };
        let socket = ns.bind_udp(SocketAddr::new(any, 0))?;
        let endpoint = socket
            .set_nonblocking(true)
            .and_then(|()| {
                Endpoint::new(
                    EndpointConfig::default(),
                    None,
                    socket,
                    Arc::new(TokioRuntime),
                )
            })
            .map_err(|e| failed(format!("client endpoint: {e}")))?;
        let local = endpoint
            .local_addr()
            .map_err(|e| failed(format!("client endpoint: {e}")))?;
        let connecting = endpoint
            .connect_with(
                client_config(&proxy.certificate)?,
                proxy.addr,
                &proxy.server_name,
            )
            .map_err(|e| failed(format!("connecting: {e}")))?;
        let connection = within(connecting)
            .await
            .map_err(failed)?
            .map_err(|e| failed(format!("QUIC handshake: {e}")))?;
        let (mut driver, mut requests) = within(
            h3::client::builder()
                .enable_extended_connect(true)
                .enable_datagram(true)
                .build::<_, _, Bytes>(h3_quinn::Connection::new(connection.clone())),
        )
        .await
        .map_err(failed)?
        .map_err(|e| failed(format!("HTTP/3 setup: {e}")))?;
        let driving = tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        let mut request = http::Request::builder()
            .method(http::Method::CONNECT)
            .uri(format!(
                "https://{}{}",
                proxy.server_name,
                target_path(target)
            ))
            .header("capsule-protocol", "?1")
            .extension(h3::ext::Protocol::CONNECT_UDP);
        if let Some((user, password)) = &proxy.credentials {
            request = request.header("proxy-authorization", basic(user, password));
        }
        let request = request
            .body(())
            .map_err(|e| failed(format!("request: {e}")))?;
        let exchange = async {
            let mut stream = requests.send_request(request).await?;
            let response = stream.recv_response().await?;
            Ok::<_, h3::error::StreamError>((stream, response))
        };
        let (mut stream, response) = within(exchange)
            .await
            .map_err(failed)?
            .map_err(|e| failed(format!("CONNECT-UDP exchange: {e}")))?;
        if !response.status().is_success() {
            let body = within(read_body(&mut stream)).await.unwrap_or_default();
            driving.abort();
            return Err(HarnessError::ConnectUdpRefused {
                proxy: proxy.addr,
                status: response.status().as_u16(),
                headers: response
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                    .collect(),
                body,
            });
        }
        let stream_id = stream.id().index() * 4;
        let (arriving_tx, arriving) = mpsc::channel(ARRIVING);
        let (capsules, capsules_rx) = mpsc::unbounded_channel();
        let (send, recv) = stream.split();
        let tasks = vec![
            driving,
            tokio::spawn(read_datagrams(
                connection.clone(),
                stream_id,
                arriving_tx.clone(),
            )),
            tokio::spawn(read_capsules(recv, arriving_tx)),
            tokio::spawn(write_capsules(send, capsules_rx)),
            // The request must outlive the tunnel: dropping the sender of requests would ask
            // the proxy to wind the connection down.
            tokio::spawn(async move {
                let _requests = requests;
                std::future::pending::<()>().await;
            }),
        ];
        Ok(ConnectUdpCarrier {
            target,
            connection,
            stream_id,
            arriving: Mutex::new(arriving),
            capsules,
            tasks,
            local,
            _endpoint: endpoint,
        })
    }

    /// The client's address towards the proxy (the gateway logs its port as `src_port`).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A handle that ends the tunnel once the carrier has been handed to a QUIC endpoint.
    pub fn closer(&self) -> TunnelCloser {
        TunnelCloser {
            connection: self.connection.clone(),
            endpoint: self._endpoint.clone(),
        }
    }
}

/// Ends a CONNECT-UDP tunnel the way a client that is done does: closes its HTTP/3
/// connection (H3_NO_ERROR) and waits until the close has gone out. Dropping the carrier
/// alone is not enough when its runtime goes with it: nothing would be left to send the close.
#[derive(Debug)]
pub struct TunnelCloser {
    connection: quinn::Connection,
    endpoint: Endpoint,
}

/// HTTP/3's H3_NO_ERROR (RFC 9114 §8.1).
const H3_NO_ERROR: u32 = 0x100;

impl TunnelCloser {
    /// Closes the tunnel's connection and waits for the close to be sent.
    pub async fn close(self) {
        self.connection.close(H3_NO_ERROR.into(), b"done");
        self.endpoint.wait_idle().await;
    }
}

impl DatagramCarrier for ConnectUdpCarrier {
    fn try_send_to(&self, target: SocketAddr, payload: &[u8]) -> io::Result<()> {
        let canonical = SocketAddr::new(target.ip().to_canonical(), target.port());
        if canonical != self.target {
            // The tunnel reaches its one target; anything else is lost, as on a network.
            return Ok(());
        }
        match self.connection.max_datagram_size() {
            Some(max) => {
                let mut frame = Vec::with_capacity(payload.len() + 10);
                put_varint(self.stream_id / 4, &mut frame);
                frame.push(0);
                frame.extend_from_slice(payload);
                // Larger than the path takes: dropped, as an IP packet over the MTU would be.
                if frame.len() <= max {
                    let _ = self.connection.send_datagram(Bytes::from(frame));
                }
            }
            None => {
                let mut capsule = Vec::with_capacity(payload.len() + 10);
                put_varint(0, &mut capsule);
                put_varint(payload.len() as u64 + 1, &mut capsule);
                capsule.push(0);
                capsule.extend_from_slice(payload);
                let _ = self.capsules.send(Bytes::from(capsule));
            }
        }
        Ok(())
    }

    fn writable(self: Arc<Self>) -> Writable {
        // Sends never block: quinn drops the oldest datagrams when its buffer is full.
        Box::pin(async { Ok(()) })
    }

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        let mut arriving = self.arriving.lock().unwrap_or_else(PoisonError::into_inner);
        match arriving.poll_recv(cx) {
            Poll::Ready(Some(payload)) => {
                let len = payload.len().min(buf.len());
                buf[..len].copy_from_slice(&payload[..len]);
                Poll::Ready(Ok((len, self.target)))
            }
            // The tunnel ended: nothing arrives any more, as on a silent network.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }
}

/// The path of RFC 9298's default URI template for `target` (IPv6 colons percent-encoded).
fn target_path(target: SocketAddr) -> String {
    let host = target.ip().to_canonical().to_string().replace(':', "%3A");
    format!("/.well-known/masque/udp/{host}/{}/", target.port())
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// A QUIC variable-length integer (RFC 9000 §16), always in 8 bytes past 2^30: short and
/// plainly correct beats shortest here.
fn put_varint(value: u64, out: &mut Vec<u8>) {
    match value {
        0..=0x3f => out.push(value as u8),
        0x40..=0x3fff => out.extend_from_slice(&(value as u16 | 0x4000).to_be_bytes()),
        0x4000..=0x3fff_ffff => out.extend_from_slice(&(value as u32 | 0x8000_0000).to_be_bytes()),
        _ => out.extend_from_slice(&(value | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

/// Reads a varint from the front of `bytes`: its value and length.
fn get_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    let len = 1usize << (first >> 6);
    let rest = bytes.get(1..len)?;
    let value = rest
        .iter()
        .fold(u64::from(first & 0x3f), |v, &b| (v << 8) | u64::from(b));
    Some((value, len))
}

/// The UDP payloads of this request's QUIC datagrams with context 0.
async fn read_datagrams(
    connection: quinn::Connection,
    stream_id: u64,
    arriving: mpsc::Sender<Vec<u8>>,
) {
    while let Ok(frame) = connection.read_datagram().await {
        let Some((quarter, at)) = get_varint(&frame) else {
            continue;
        };
        if quarter * 4 != stream_id {
            continue;
        }
        if let Some(payload) = udp_payload(&frame[at..]) {
            let _ = arriving.try_send(payload.to_vec());
        }
    }
}

/// The payload of a context-0 HTTP datagram.
fn udp_payload(datagram: &[u8]) -> Option<&[u8]> {
    match get_varint(datagram)? {
        (0, len) => Some(&datagram[len..]),
        _ => None,
    }
}

type RecvHalf = h3::client::RequestStream<h3_quinn::RecvStream, Bytes>;
type SendHalf = h3::client::RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;

/// The UDP payloads of DATAGRAM capsules on the response body; other capsules are skipped.
async fn read_capsules(mut recv: RecvHalf, arriving: mpsc::Sender<Vec<u8>>) {
    let mut pending = Vec::new();
    while let Ok(Some(mut chunk)) = recv.recv_data().await {
        while chunk.has_remaining() {
            let part = chunk.chunk();
            pending.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
        while let Some((kind, a)) = get_varint(&pending) {
            let Some((len, b)) = get_varint(&pending[a..]) else {
                break;
            };
            let Ok(len) = usize::try_from(len) else {
                return;
            };
            let end = a + b + len;
            if pending.len() < end {
                break;
            }
            if kind == 0 {
                if let Some(payload) = udp_payload(&pending[a + b..end]) {
                    let _ = arriving.try_send(payload.to_vec());
                }
            }
            pending.drain(..end);
        }
    }
}

async fn write_capsules(mut send: SendHalf, mut capsules: mpsc::UnboundedReceiver<Bytes>) {
    while let Some(capsule) = capsules.recv().await {
        if send.send_data(capsule).await.is_err() {
            return;
        }
    }
}

async fn read_body(
    stream: &mut h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>,
) -> String {
    let mut body = Vec::new();
    while let Ok(Some(mut chunk)) = stream.recv_data().await {
        while chunk.has_remaining() {
            let part = chunk.chunk();
            body.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// TLS 1.3 on ring with HTTP/3's ALPN and `certificate` as the only root; QUIC datagrams on,
/// and a first path MTU that fits the tunnelled QUIC's 1200-byte packets in one datagram (the
/// lab's links carry 1500 bytes).
fn client_config(certificate: &CertificateDer<'static>) -> Result<ClientConfig, HarnessError> {
    let setup = |reason: String| HarnessError::QuicSetup {
        what: "CONNECT-UDP client configuration",
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(certificate.clone())
        .map_err(|e| setup(e.to_string()))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(tls_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN_H3.to_vec()];
    let quic = QuicClientConfig::try_from(tls).map_err(|e| setup(e.to_string()))?;
    let mut transport = TransportConfig::default();
    transport.initial_mtu(1400);
    let mut config = ClientConfig::new(Arc::new(quic));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// `future`, or a reason once [`H3_STAGE_DEADLINE`] passed without it.
async fn within<F: std::future::Future>(future: F) -> Result<F::Output, String> {
    tokio::time::timeout(H3_STAGE_DEADLINE, future)
        .await
        .map_err(|_| format!("no answer within {H3_STAGE_DEADLINE:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_read_back() {
        for value in [
            0,
            63,
            64,
            16_383,
            16_384,
            (1 << 30) - 1,
            1 << 30,
            (1 << 62) - 1,
        ] {
            let mut out = Vec::new();
            put_varint(value, &mut out);
            assert_eq!(get_varint(&out), Some((value, out.len())), "{value}");
        }
    }

    #[test]
    fn target_paths_follow_the_default_template() {
        let v4: SocketAddr = "198.51.100.80:8081".parse().expect("address");
        let v6: SocketAddr = "[2001:db8:ffff::80]:8081".parse().expect("address");
        let mapped: SocketAddr = "[::ffff:198.51.100.80]:443".parse().expect("address");
        assert_eq!(
            target_path(v4),
            "/.well-known/masque/udp/198.51.100.80/8081/"
        );
        assert_eq!(
            target_path(v6),
            "/.well-known/masque/udp/2001%3Adb8%3Affff%3A%3A80/8081/"
        );
        assert_eq!(
            target_path(mapped),
            "/.well-known/masque/udp/198.51.100.80/443/"
        );
    }
}
