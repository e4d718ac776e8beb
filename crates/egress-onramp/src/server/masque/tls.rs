//! The QUIC server configuration of a MASQUE listener: the endpoint's certificate and key
//! (PEM files), TLS 1.3 on ring, ALPN `h3`, and a transport that takes datagrams.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use egress_model::EndpointTls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a MASQUE listener's TLS configuration cannot be built; each names the file at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MasqueTlsError {
    #[error("cannot read the certificate file {}: {reason}", path.display())]
    Certificate { path: PathBuf, reason: String },
    #[error("the certificate file {} holds no PEM certificate", path.display())]
    NoCertificate { path: PathBuf },
    #[error("cannot read a private key from {}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("the certificate {} and key {} do not make a TLS server: {reason}", certificate.display(), key.display())]
    Mismatch {
        certificate: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// ALPN of HTTP/3.
const ALPN_H3: &[u8] = b"h3";

/// Reads the endpoint's certificate chain and key and builds the QUIC server configuration.
/// A connection with nothing sent either way for `idle_timeout` closes.
pub fn server_config(
    tls: &EndpointTls,
    idle_timeout: Duration,
) -> Result<quinn::ServerConfig, MasqueTlsError> {
    let certificates = read_certificates(&tls.certificate)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| MasqueTlsError::Key {
        path: tls.key.clone(),
        reason: e.to_string(),
    })?;
    let mismatch = |reason: String| MasqueTlsError::Mismatch {
        certificate: tls.certificate.clone(),
        key: tls.key.clone(),
        reason,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut crypto = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| mismatch(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .map_err(|e| mismatch(e.to_string()))?;
    crypto.alpn_protocols = vec![ALPN_H3.to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(crypto)
        .map_err(|e| mismatch(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport(idle_timeout)));
    Ok(config)
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, MasqueTlsError> {
    let unreadable = |reason: String| MasqueTlsError::Certificate {
        path: path.to_owned(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(e.to_string()))?;
    if certificates.is_empty() {
        return Err(MasqueTlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certificates)
}

/// Datagrams on (they carry the proxied UDP), and the idle timeout of the on-ramps: a
/// tunnel may be quiet that long before the connection goes.
fn transport(idle_timeout: Duration) -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    // Capped at what QUIC can announce (2^62 ms); the on-ramp's own timer ends quiet tunnels.
    let idle =
        quinn::IdleTimeout::try_from(idle_timeout).unwrap_or_else(|_| quinn::VarInt::MAX.into());
    transport.max_idle_timeout(Some(idle));
    transport.datagram_receive_buffer_size(Some(DATAGRAM_BUFFER));
    transport.datagram_send_buffer_size(DATAGRAM_BUFFER);
    transport
}

/// Bytes of datagrams buffered each way per connection before the oldest are dropped.
const DATAGRAM_BUFFER: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    fn temp_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("egress-onramp-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a test directory");
        dir
    }

    #[test]
    fn a_certificate_and_its_key_make_a_server() {
        let dir = temp_dir("tls-ok");
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        let tls = EndpointTls {
            certificate: write(&dir, "cert.pem", &cert.cert.pem()),
            key: write(&dir, "key.pem", &cert.signing_key.serialize_pem()),
        };
        assert!(server_config(&tls, Duration::from_secs(300)).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn each_broken_file_is_named() {
        let dir = temp_dir("tls-broken");
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        let other = rcgen::generate_simple_self_signed(vec!["other".into()]).expect("cert");
        let good_cert = write(&dir, "cert.pem", &cert.cert.pem());
        let good_key = write(&dir, "key.pem", &cert.signing_key.serialize_pem());
        let other_key = write(&dir, "other.pem", &other.signing_key.serialize_pem());
        let empty = write(&dir, "empty.pem", "");
        let missing = dir.join("missing.pem");
        let check = |certificate: &Path, key: &Path| {
            let tls = EndpointTls {
                certificate: certificate.to_owned(),
                key: key.to_owned(),
            };
            server_config(&tls, Duration::from_secs(1)).map(|_| ())
        };
        assert!(matches!(
            check(&missing, &good_key),
            Err(MasqueTlsError::Certificate { path, .. }) if path == missing
        ));
        assert!(matches!(
            check(&empty, &good_key),
            Err(MasqueTlsError::NoCertificate { path }) if path == empty
        ));
        assert!(matches!(
            check(&good_cert, &empty),
            Err(MasqueTlsError::Key { path, .. }) if path == empty
        ));
        let mismatch = check(&good_cert, &other_key);
        assert!(
            matches!(&mismatch, Err(MasqueTlsError::Mismatch { .. })),
            "{mismatch:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
