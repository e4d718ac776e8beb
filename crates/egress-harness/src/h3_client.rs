//! One HTTP/3 GET over any quinn client endpoint (direct, or through a datagram carrier), for
//! scenarios that check what an HTTP/3 origin saw.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Buf;
use quinn::crypto::rustls::QuicClientConfig;
use quinn::{ClientConfig, Endpoint, IdleTimeout, TransportConfig};
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::h3_origin::{tls_provider, ALPN_H3};
use crate::{H3Stage, HarnessError};

/// Deadline for each stage of [`h3_get`], and the QUIC idle timeout, so an unanswered
/// handshake fails the attempt instead of hanging it.
pub const H3_STAGE_DEADLINE: Duration = Duration::from_secs(5);

/// Fetches `https://{server_name}/` from `server` over HTTP/3 through `endpoint`, trusting
/// only `certificate`, and returns the body of a 200 answer. Each stage fails after
/// [`H3_STAGE_DEADLINE`]; the connection is closed before returning.
pub async fn h3_get(
    endpoint: &Endpoint,
    server: SocketAddr,
    server_name: &str,
    certificate: &CertificateDer<'static>,
) -> Result<String, HarnessError> {
    let failed = |stage, reason: String| HarnessError::Http3 {
        server,
        stage,
        reason,
    };
    let config = client_config(certificate)?;
    let connecting = endpoint
        .connect_with(config, server, server_name)
        .map_err(|e| failed(H3Stage::Handshake, e.to_string()))?;
    let connection = within(connecting)
        .await
        .map_err(|reason| failed(H3Stage::Handshake, reason))?
        .map_err(|e| failed(H3Stage::Handshake, e.to_string()))?;
    let (mut driver, mut requests) = within(h3::client::new(h3_quinn::Connection::new(
        connection.clone(),
    )))
    .await
    .map_err(|reason| failed(H3Stage::Request, reason))?
    .map_err(|e| failed(H3Stage::Request, e.to_string()))?;
    let exchange = async {
        let request = http::Request::get(format!("https://{server_name}/"))
            .body(())
            .map_err(|e| (H3Stage::Request, e.to_string()))?;
        let mut stream = requests
            .send_request(request)
            .await
            .map_err(|e| (H3Stage::Request, e.to_string()))?;
        stream
            .finish()
            .await
            .map_err(|e| (H3Stage::Request, e.to_string()))?;
        let response = stream
            .recv_response()
            .await
            .map_err(|e| (H3Stage::Request, e.to_string()))?;
        if response.status() != http::StatusCode::OK {
            return Err((H3Stage::Response, format!("status {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(mut chunk) = stream
            .recv_data()
            .await
            .map_err(|e| (H3Stage::Response, e.to_string()))?
        {
            while chunk.has_remaining() {
                let part = chunk.chunk();
                body.extend_from_slice(part);
                let advance = part.len();
                chunk.advance(advance);
            }
        }
        String::from_utf8(body).map_err(|e| (H3Stage::Response, e.to_string()))
    };
    // The h3 driver reads the control streams; run it beside the exchange.
    let outcome = tokio::select! {
        outcome = within(exchange) => outcome
            .map_err(|reason| (H3Stage::Request, reason))
            .and_then(|body| body),
        closed = driver.wait_idle() => Err((H3Stage::Request, format!("connection ended: {closed}"))),
    };
    connection.close(0u32.into(), b"done");
    outcome.map_err(|(stage, reason)| failed(stage, reason))
}

/// TLS 1.3 on ring, HTTP/3's ALPN, `certificate` as the only root, and an idle timeout that
/// bounds the handshake.
fn client_config(certificate: &CertificateDer<'static>) -> Result<ClientConfig, HarnessError> {
    let setup = |reason: String| HarnessError::QuicSetup {
        what: "HTTP/3 client configuration",
        reason,
    };
    let mut roots = RootCertStore::empty();
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
    transport.max_idle_timeout(Some(
        IdleTimeout::try_from(H3_STAGE_DEADLINE).map_err(|e| setup(e.to_string()))?,
    ));
    let mut config = ClientConfig::new(Arc::new(quic));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// `future`, or a reason once [`H3_STAGE_DEADLINE`] passed without it.
async fn within<F: Future>(future: F) -> Result<F::Output, String> {
    tokio::time::timeout(H3_STAGE_DEADLINE, future)
        .await
        .map_err(|_| format!("no answer within {H3_STAGE_DEADLINE:?}"))
}
