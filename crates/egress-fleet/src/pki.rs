//! The fleet's certificates: one CA per fleet, one certificate per node naming the node id.
//!
//! A node certificate serves both ends of an inter-node connection (server and client auth), so
//! each peer proves which node it is; the node id is the certificate's DNS name.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Common name of every fleet CA.
const CA_NAME: &str = "egressd fleet CA";
/// ALPN protocol of inter-node connections: HTTP/2 only.
const ALPN_H2: &[u8] = b"h2";

/// File names inside a fleet directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA's private key: keep it off the nodes.
pub const CA_KEY_FILE: &str = "ca.key";

/// What went wrong with the fleet's certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file exists and would be overwritten.
    #[error("{path} already exists; refusing to overwrite it (remove it first)")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// A PEM file holds nothing usable.
    #[error("{path}: {what}")]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        what: String,
    },
    /// A node id that cannot be a certificate's DNS name.
    #[error("node id {id:?} cannot name a certificate: use letters, digits, '-' and '.'")]
    BadNodeId {
        /// The id.
        id: String,
    },
    /// Generating or signing failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the material.
    #[error("TLS configuration: {0}")]
    Tls(String),
}

/// Writes a new fleet CA (`ca.pem`, `ca.key`) into `dir`; refuses to overwrite either.
pub fn init_ca(dir: &Path) -> Result<(PathBuf, PathBuf), PkiError> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    for path in [&cert_path, &key_path] {
        if path.exists() {
            return Err(PkiError::Exists { path: path.clone() });
        }
    }
    fs::create_dir_all(dir).map_err(|source| PkiError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let key = KeyPair::generate()?;
    let cert = ca_params().self_signed(&key)?;
    write_private(&key_path, &key.serialize_pem())?;
    write(&cert_path, &cert.pem())?;
    Ok((cert_path, key_path))
}

/// Issues a certificate for node `id`, signed by the CA in `ca_dir`; returns (cert, key) PEM.
pub fn issue_node_cert(ca_dir: &Path, id: &str) -> Result<(String, String), PkiError> {
    check_node_id(id)?;
    let key_path = ca_dir.join(CA_KEY_FILE);
    let ca_key = KeyPair::from_pem(&read(&key_path)?).map_err(|e| PkiError::BadPem {
        path: key_path,
        what: format!("not a CA private key: {e}"),
    })?;
    let issuer = Issuer::new(ca_params(), ca_key);
    let mut params = CertificateParams::new(vec![id.to_owned()])?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, id);
    params.distinguished_name = dn;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The CA's parameters: the same on `init` and on every `issue`, so the issuer name matches.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    params
}

/// A node id is its certificate's DNS name.
pub fn check_node_id(id: &str) -> Result<(), PkiError> {
    let ok = !id.is_empty()
        && id.len() <= 253
        && id.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok && ServerName::try_from(id.to_owned()).is_ok() {
        Ok(())
    } else {
        Err(PkiError::BadNodeId { id: id.to_owned() })
    }
}

/// Where a node's fleet material lives.
#[derive(Debug, Clone)]
pub struct FleetFiles {
    /// The fleet CA certificate.
    pub ca: PathBuf,
    /// This node's certificate.
    pub cert: PathBuf,
    /// This node's private key.
    pub key: PathBuf,
}

/// TLS settings of both ends of inter-node connections.
#[derive(Debug, Clone)]
pub struct FleetTls {
    /// Accepts only clients with a certificate from the fleet CA.
    pub server: Arc<ServerConfig>,
    /// Trusts only servers with a certificate from the fleet CA, and presents this node's.
    pub client: Arc<ClientConfig>,
    /// The CA, to check which node a peer certificate names.
    pub roots: Arc<RootCertStore>,
}

impl FleetTls {
    /// Loads the CA, the node certificate and its key.
    pub fn load(files: &FleetFiles) -> Result<FleetTls, PkiError> {
        let ca = certs(&files.ca)?;
        let chain = certs(&files.cert)?;
        let key = private_key(&files.key)?;
        let mut roots = RootCertStore::empty();
        for cert in ca {
            roots.add(cert).map_err(|e| PkiError::BadPem {
                path: files.ca.clone(),
                what: format!("not a usable CA certificate: {e}"),
            })?;
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(fleet_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
                .build()
                .map_err(|e| PkiError::Tls(e.to_string()))?;
        let mut server = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| PkiError::Tls(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| PkiError::Tls(e.to_string()))?;
        server.alpn_protocols = vec![ALPN_H2.to_vec()];
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| PkiError::Tls(e.to_string()))?
            .with_root_certificates(Arc::clone(&roots))
            .with_client_auth_cert(chain, key)
            .map_err(|e| PkiError::Tls(e.to_string()))?;
        client.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(FleetTls {
            server: Arc::new(server),
            client: Arc::new(client),
            roots,
        })
    }
}

/// ring's TLS 1.3 suites with AES-128-GCM first: forwarded bulk is encrypted twice per byte (at
/// each end), and AES-128 is the cheapest of them with AES instructions.
fn fleet_provider() -> rustls::crypto::CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    provider
        .cipher_suites
        .sort_by_key(|suite| suite.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    provider
}

/// True when `cert` (already verified against the fleet CA by the handshake) names node `id`.
pub fn names_node(cert: &CertificateDer<'_>, id: &str) -> bool {
    let Ok(end_entity) = webpki::EndEntityCert::try_from(cert) else {
        return false;
    };
    let Ok(name) = ServerName::try_from(id) else {
        return false;
    };
    end_entity.verify_is_valid_for_subject_name(&name).is_ok()
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let pem = read(path)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| PkiError::BadPem {
            path: path.to_owned(),
            what: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(PkiError::BadPem {
            path: path.to_owned(),
            what: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PkiError> {
    let pem = read(path)?;
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|e| PkiError::BadPem {
            path: path.to_owned(),
            what: e.to_string(),
        })?
        .ok_or_else(|| PkiError::BadPem {
            path: path.to_owned(),
            what: "no PRIVATE KEY block".into(),
        })
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_owned(),
        source,
    })
}

fn write(path: &Path, text: &str) -> Result<(), PkiError> {
    fs::write(path, text).map_err(|source| PkiError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes a private key readable by its owner only.
pub fn write_private(path: &Path, text: &str) -> Result<(), PkiError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                PkiError::Exists {
                    path: path.to_owned(),
                }
            } else {
                io(e)
            }
        })?;
    file.write_all(text.as_bytes()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_must_be_dns_names() {
        assert!(check_node_id("lax-1").is_ok());
        assert!(check_node_id("lax-1.fleet").is_ok());
        assert!(check_node_id("").is_err());
        assert!(check_node_id("lax_1").is_err());
        assert!(check_node_id("-lax").is_err());
        assert!(check_node_id("a..b").is_err());
    }

    #[test]
    fn issued_certificates_name_their_node_and_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        init_ca(dir.path()).expect("init");
        assert!(matches!(init_ca(dir.path()), Err(PkiError::Exists { .. })));
        let (cert, key) = issue_node_cert(dir.path(), "lax-1").expect("issue");
        fs::write(dir.path().join("lax-1.pem"), &cert).expect("write");
        write_private(&dir.path().join("lax-1.key"), &key).expect("write key");
        let tls = FleetTls::load(&FleetFiles {
            ca: dir.path().join(CA_CERT_FILE),
            cert: dir.path().join("lax-1.pem"),
            key: dir.path().join("lax-1.key"),
        })
        .expect("load");
        assert_eq!(tls.roots.len(), 1);
        let der = rustls_pemfile::certs(&mut cert.as_bytes())
            .next()
            .expect("one cert")
            .expect("pem");
        assert!(names_node(&der, "lax-1"));
        assert!(!names_node(&der, "fra-1"));
    }
}
