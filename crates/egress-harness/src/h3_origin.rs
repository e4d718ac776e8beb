//! A whoami origin over HTTP/3: answers every request with the address and port its QUIC
//! connection came from (`seen 203.0.113.10:40123`), so a test observes what a destination
//! sees of HTTP/3 relayed through the gateway. Its certificate is self-signed for
//! [`H3_ORIGIN_NAME`]; clients trust [`H3Origin::certificate`].

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use bytes::Bytes;
use quinn::crypto::rustls::QuicServerConfig;
use quinn::{Endpoint, EndpointConfig, Incoming, ServerConfig, TokioRuntime};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use tokio::sync::oneshot;

use crate::{HarnessError, Netns};

/// The name the origin's certificate is issued for; clients connect with it as server name.
pub const H3_ORIGIN_NAME: &str = "h3.origin.lab";

/// HTTP/3's ALPN protocol id (RFC 9114 §3.1).
pub(crate) const ALPN_H3: &[u8] = b"h3";

/// The TLS crypto the harness uses on both sides: ring, as the rest of the workspace.
pub(crate) fn tls_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Shared list of the peers whose QUIC connections completed, in order.
type Seen = Arc<Mutex<Vec<SocketAddr>>>;

/// An HTTP/3 whoami origin inside a namespace, on one or more UDP addresses; dropping it
/// stops it.
#[derive(Debug)]
pub struct H3Origin {
    addrs: Vec<SocketAddr>,
    certificate: CertificateDer<'static>,
    seen: Seen,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl H3Origin {
    /// Starts an origin on each of `addrs` inside `ns` (port 0 picks a free port; see
    /// [`H3Origin::addrs`]), all with one certificate.
    pub fn start(ns: &Netns, addrs: &[SocketAddr]) -> Result<H3Origin, HarnessError> {
        let io_error = |action: String, source| HarnessError::Io {
            namespace: ns.name().to_owned(),
            action,
            source,
        };
        let (certificate, server_config) = server_config()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| io_error("building the HTTP/3 origin's runtime".into(), e))?;
        let mut endpoints = Vec::new();
        {
            // The endpoints' drivers become tasks of this runtime; they run on its thread.
            let _entered = runtime.enter();
            for &addr in addrs {
                let socket: UdpSocket = ns.bind_udp(addr)?;
                let endpoint = socket
                    .set_nonblocking(true)
                    .and_then(|()| {
                        Endpoint::new(
                            EndpointConfig::default(),
                            Some(server_config.clone()),
                            socket,
                            Arc::new(TokioRuntime),
                        )
                    })
                    .map_err(|e| io_error(format!("starting the HTTP/3 origin on {addr}"), e))?;
                endpoints.push(endpoint);
            }
        }
        let addrs = endpoints
            .iter()
            .map(Endpoint::local_addr)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| io_error("reading the HTTP/3 origin's addresses".into(), e))?;
        let seen = Seen::default();
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("h3-origin".into())
            .spawn({
                let seen = Arc::clone(&seen);
                move || runtime.block_on(serve(endpoints, seen, stopped))
            })
            .map_err(|e| io_error("starting the HTTP/3 origin's thread".into(), e))?;
        Ok(H3Origin {
            addrs,
            certificate,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The addresses the origin listens on, in the order given to [`H3Origin::start`].
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The origin's self-signed certificate (DER), the one root a client needs.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.certificate
    }

    /// The peers of the QUIC connections completed so far, in order (IPv4-mapped shown as
    /// IPv4).
    pub fn seen(&self) -> Vec<SocketAddr> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The peer an answer body (`seen 203.0.113.10:40123`) names, if it is one.
    pub fn seen_in_answer(body: &str) -> Option<SocketAddr> {
        body.trim().strip_prefix("seen ")?.parse().ok()
    }
}

impl Drop for H3Origin {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A self-signed certificate for [`H3_ORIGIN_NAME`] and the QUIC server configuration
/// presenting it.
fn server_config() -> Result<(CertificateDer<'static>, ServerConfig), HarnessError> {
    let setup = |reason: String| HarnessError::QuicSetup {
        what: "HTTP/3 origin certificate and configuration",
        reason,
    };
    let issued = rcgen::generate_simple_self_signed(vec![H3_ORIGIN_NAME.to_owned()])
        .map_err(|e| setup(e.to_string()))?;
    let certificate = issued.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(issued.signing_key.serialize_der());
    let mut tls = rustls::ServerConfig::builder_with_provider(tls_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| setup(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key.into())
        .map_err(|e| setup(e.to_string()))?;
    tls.alpn_protocols = vec![ALPN_H3.to_vec()];
    let quic = QuicServerConfig::try_from(tls).map_err(|e| setup(e.to_string()))?;
    Ok((certificate, ServerConfig::with_crypto(Arc::new(quic))))
}

/// Accepts on every endpoint until told to stop; dropping the runtime afterwards ends the
/// connections still open.
async fn serve(endpoints: Vec<Endpoint>, seen: Seen, stopped: oneshot::Receiver<()>) {
    for endpoint in &endpoints {
        tokio::spawn(accept_loop(endpoint.clone(), Arc::clone(&seen)));
    }
    // A dropped sender stops the origin too.
    let _ = stopped.await;
    for endpoint in &endpoints {
        endpoint.close(0u32.into(), b"origin stopped");
    }
}

async fn accept_loop(endpoint: Endpoint, seen: Seen) {
    while let Some(incoming) = endpoint.accept().await {
        tokio::spawn(answer(incoming, Arc::clone(&seen)));
    }
}

/// Completes one QUIC connection and answers each of its requests with the peer's address.
async fn answer(incoming: Incoming, seen: Seen) {
    let Ok(connection) = incoming.await else {
        return;
    };
    let remote = connection.remote_address();
    let peer = SocketAddr::new(remote.ip().to_canonical(), remote.port());
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(peer);
    let Ok(mut h3) =
        h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(connection)).await
    else {
        return;
    };
    // Ends when the client closes the connection (an error or None, either way).
    while let Ok(Some(resolver)) = h3.accept().await {
        let Ok((_request, mut stream)) = resolver.resolve_request().await else {
            continue;
        };
        let response = http::Response::builder()
            .status(http::StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "text/plain")
            .body(())
            .expect("a status and a static header make a valid response");
        if stream.send_response(response).await.is_ok()
            && stream
                .send_data(Bytes::from(format!("seen {peer}\n")))
                .await
                .is_ok()
        {
            let _ = stream.finish().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_name_the_peer() {
        assert_eq!(
            H3Origin::seen_in_answer("seen [2001:db8:e000:10::7]:40123\n"),
            Some("[2001:db8:e000:10::7]:40123".parse().expect("address"))
        );
        assert_eq!(H3Origin::seen_in_answer("hello"), None);
    }
}
