//! The MASQUE on-ramp against a fake gateway, over real QUIC on loopback: an HTTP/3 client
//! opens CONNECT-UDP requests and reads the statuses and datagrams that come back.

use std::future::poll_fn;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes};
use egress_masque::capsule::{CapsuleDecoder, DATAGRAM_CAPSULE};
use egress_masque::{decode_h3_datagram, encode_h3_datagram_header, target_path};
use egress_model::{EndpointTls, ProxyProtocol, TargetAddr};
use tokio::sync::mpsc;

use super::*;
use crate::server::gateway::{
    AssociateRequest, Associated, Authorized, BoxFuture, OpenError, OpenRequest, Opened,
    UdpAssociation, UdpReply,
};
use crate::server::OpenFailure;

/// The port the fake gateway refuses as the real one does with UDP off.
const REFUSED_PORT: u16 = 9;

/// What the fake gateway saw.
#[derive(Debug, Default)]
struct Seen {
    associations: Vec<AssociateRequest>,
    sent: Vec<(TargetAddr, Vec<u8>)>,
    dropped: Vec<&'static str>,
    finished: Vec<String>,
    rejected: Vec<String>,
}

/// Accepts user `u` with password `p`, refuses [`REFUSED_PORT`] with `udp_disabled`, and
/// answers each datagram with `echo:` and the payload, from the target.
#[derive(Debug, Default)]
struct FakeGateway {
    seen: Arc<Mutex<Seen>>,
}

#[derive(Debug)]
struct EchoAssociation {
    seen: Arc<Mutex<Seen>>,
    replies: mpsc::Sender<UdpReply>,
}

impl UdpAssociation for EchoAssociation {
    fn send<'a>(&'a self, target: TargetAddr, payload: &'a [u8]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let from = match target.host {
                egress_model::TargetHost::Ip(ip) => SocketAddr::new(ip, target.port),
                egress_model::TargetHost::Name(_) => "192.0.2.99:1".parse().expect("valid"),
            };
            self.seen
                .lock()
                .expect("not poisoned")
                .sent
                .push((target, payload.to_vec()));
            let mut echo = b"echo:".to_vec();
            echo.extend_from_slice(payload);
            let _ = self
                .replies
                .send(UdpReply {
                    from,
                    payload: echo,
                })
                .await;
        })
    }

    fn dropped(&self, reason: &'static str) {
        self.seen.lock().expect("not poisoned").dropped.push(reason);
    }

    fn finish(self: Box<Self>, close_reason: &str) {
        self.seen
            .lock()
            .expect("not poisoned")
            .finished
            .push(close_reason.to_owned());
    }
}

impl Gateway for FakeGateway {
    fn authorize<'a>(
        &'a self,
        _listener: &'a Listener,
        _peer: SocketAddr,
        credentials: Option<(&'a str, &'a str)>,
    ) -> BoxFuture<'a, Result<Authorized, AuthError>> {
        let answer = match credentials {
            None => Err(AuthError::CredentialsRequired),
            Some(("u", "p")) => Ok(Authorized {
                account: "acme".into(),
                user: Some("u".into()),
                endpoint: "h3".into(),
            }),
            Some(_) => Err(AuthError::BadCredentials),
        };
        Box::pin(async move { answer })
    }

    fn requires_credentials(&self, _listener: &Listener, _peer: SocketAddr) -> bool {
        true
    }

    fn open(&self, _request: OpenRequest) -> BoxFuture<'_, Result<Opened, OpenError>> {
        unreachable!("the MASQUE on-ramp opens no TCP connection")
    }

    fn associate(&self, request: AssociateRequest) -> BoxFuture<'_, Result<Associated, OpenError>> {
        let refused = request.target.as_ref().map(|t| t.port) == Some(REFUSED_PORT);
        self.seen
            .lock()
            .expect("not poisoned")
            .associations
            .push(request);
        Box::pin(async move {
            if refused {
                return Err(OpenError {
                    failure: OpenFailure::NotAllowed,
                    close_reason: "udp_disabled",
                    message: "UDP is off for the account".into(),
                });
            }
            let (replies_tx, replies) = mpsc::channel(16);
            Ok(Associated {
                association: Box::new(EchoAssociation {
                    seen: Arc::clone(&self.seen),
                    replies: replies_tx,
                }),
                replies,
            })
        })
    }

    fn reject(&self, _listener: &Listener, _peer: SocketAddr, onramp: OnRamp, close_reason: &str) {
        assert_eq!(onramp, OnRamp::Masque);
        self.seen
            .lock()
            .expect("not poisoned")
            .rejected
            .push(close_reason.to_owned());
    }
}

/// A MASQUE listener on loopback with a fresh self-signed certificate.
struct Server {
    addr: SocketAddr,
    certificate: rustls::pki_types::CertificateDer<'static>,
    seen: Arc<Mutex<Seen>>,
    _endpoint: quinn::Endpoint,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start_server(test: &str) -> Server {
    let dir = std::env::temp_dir().join(format!(
        "egress-onramp-masque-{test}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test directory");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("certificate");
    let tls = EndpointTls {
        certificate: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&tls.certificate, cert.cert.pem()).expect("write the certificate");
    std::fs::write(&tls.key, cert.signing_key.serialize_pem()).expect("write the key");
    let config = server_config(&tls, Duration::from_secs(30)).expect("server config");
    let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().expect("valid"))
        .expect("bind the server");
    let addr = endpoint.local_addr().expect("local address");
    let gateway = Arc::new(FakeGateway::default());
    let seen = Arc::clone(&gateway.seen);
    let listener = Arc::new(Listener {
        local: addr,
        protocol: ProxyProtocol::Masque,
    });
    let accepting = endpoint.clone();
    tokio::spawn(async move {
        let settings = Arc::new(OnRampSettings::default());
        while let Some(incoming) = accepting.accept().await {
            tokio::spawn(handle_masque(
                incoming,
                Arc::clone(&listener),
                Arc::clone(&gateway),
                Arc::clone(&settings),
            ));
        }
    });
    Server {
        addr,
        certificate: cert.cert.der().clone(),
        seen,
        _endpoint: endpoint,
        dir,
    }
}

type SendRequest = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;
type ClientStream = h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

/// An HTTP/3 client connection to the server, with datagrams and extended CONNECT.
struct Client {
    connection: quinn::Connection,
    requests: SendRequest,
    _endpoint: quinn::Endpoint,
}

async fn connect(server: &Server, datagrams: bool) -> Client {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(server.certificate.clone())
        .expect("trust the certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut crypto = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    crypto.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(crypto).expect("QUIC TLS");
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    if !datagrams {
        transport.datagram_receive_buffer_size(None);
    }
    config.transport_config(Arc::new(transport));
    let mut endpoint =
        quinn::Endpoint::client("127.0.0.1:0".parse().expect("valid")).expect("client endpoint");
    endpoint.set_default_client_config(config);
    let connection = endpoint
        .connect(server.addr, "localhost")
        .expect("start connecting")
        .await
        .expect("QUIC handshake");
    let (mut driver, requests) = h3::client::builder()
        .enable_extended_connect(true)
        .enable_datagram(datagrams)
        .build::<_, _, Bytes>(h3_quinn::Connection::new(connection.clone()))
        .await
        .expect("HTTP/3 connection");
    tokio::spawn(async move { poll_fn(|cx| driver.poll_close(cx)).await });
    Client {
        connection,
        requests,
        _endpoint: endpoint,
    }
}

/// Sends a request head and reads the response head.
async fn request(
    client: &mut Client,
    method: http::Method,
    protocol: Option<h3::ext::Protocol>,
    path: &str,
    authorization: Option<&str>,
) -> (http::Response<()>, ClientStream) {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("https://localhost{path}"))
        .header("capsule-protocol", "?1");
    if let Some(protocol) = protocol {
        builder = builder.extension(protocol);
    }
    if let Some(value) = authorization {
        builder = builder.header("proxy-authorization", value);
    }
    let mut stream = client
        .requests
        .send_request(builder.body(()).expect("request"))
        .await
        .expect("send the request");
    let response = stream.recv_response().await.expect("a response");
    (response, stream)
}

/// `Basic u:p`.
const GOOD: &str = "Basic dTpw";

fn target(text: &str) -> TargetAddr {
    TargetAddr::parse(text).expect("valid target")
}

async fn connect_udp(
    client: &mut Client,
    to: &TargetAddr,
    authorization: Option<&str>,
) -> (http::Response<()>, ClientStream) {
    request(
        client,
        http::Method::CONNECT,
        Some(h3::ext::Protocol::CONNECT_UDP),
        &target_path(to),
        authorization,
    )
    .await
}

async fn body_text(stream: &mut ClientStream) -> String {
    let mut body = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.expect("body") {
        while chunk.has_remaining() {
            let part = chunk.chunk();
            body.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    String::from_utf8(body).expect("UTF-8 body")
}

fn header<'a>(response: &'a http::Response<()>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {response:?}"))
        .to_str()
        .expect("ASCII header")
}

async fn with_deadline<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within 10 s"))
}

#[tokio::test]
async fn datagrams_reach_the_target_and_replies_come_back() {
    let server = start_server("datagrams").await;
    let mut client = connect(&server, true).await;
    let to = target("192.0.2.7:4433");
    let (response, stream) = connect_udp(&mut client, &to, Some(GOOD)).await;
    assert_eq!(response.status(), 200, "{response:?}");
    assert_eq!(header(&response, "capsule-protocol"), "?1");
    let stream_id = stream.id().index() * 4;

    let mut frame = Vec::new();
    encode_h3_datagram_header(stream_id, &mut frame);
    frame.extend_from_slice(b"\x00ping");
    client
        .connection
        .send_datagram(Bytes::from(frame))
        .expect("send a datagram");
    let reply = with_deadline("the echo", client.connection.read_datagram())
        .await
        .expect("a datagram back");
    assert_eq!(
        decode_h3_datagram(&reply),
        Some((stream_id, &b"\x00echo:ping"[..]))
    );

    // A datagram of another context is dropped and counted, not relayed.
    let mut frame = Vec::new();
    encode_h3_datagram_header(stream_id, &mut frame);
    frame.extend_from_slice(b"\x02other");
    client
        .connection
        .send_datagram(Bytes::from(frame))
        .expect("send a datagram");
    with_deadline("the drop", async {
        while server.seen.lock().expect("not poisoned").dropped.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    let seen = server.seen.lock().expect("not poisoned");
    assert_eq!(seen.sent, vec![(to.clone(), b"ping".to_vec())]);
    assert_eq!(seen.dropped, vec!["unknown_context"]);
    let association = &seen.associations[0];
    assert_eq!(association.onramp, OnRamp::Masque);
    assert_eq!(association.target, Some(to));
    assert_eq!(association.who.user.as_deref(), Some("u"));
}

#[tokio::test]
async fn capsules_carry_datagrams_when_the_client_takes_no_quic_datagrams() {
    let server = start_server("capsules").await;
    let mut client = connect(&server, false).await;
    let to = target("[2001:db8::7]:443");
    let (response, mut stream) = connect_udp(&mut client, &to, Some(GOOD)).await;
    assert_eq!(response.status(), 200, "{response:?}");

    let mut body = Vec::new();
    // An unknown capsule type first: skipped (RFC 9297 §3.2).
    egress_masque::capsule::encode(0x2a, b"ignored", &mut body);
    egress_masque::capsule::encode(DATAGRAM_CAPSULE, b"\x00hello", &mut body);
    // Cut inside the capsule, so the on-ramp has to join the two chunks.
    let rest = body.split_off(body.len() - 3);
    stream.send_data(Bytes::from(body)).await.expect("send");
    stream.send_data(Bytes::from(rest)).await.expect("send");

    let mut decoder = CapsuleDecoder::default();
    let reply = with_deadline("the echo capsule", async {
        loop {
            let mut chunk = stream.recv_data().await.expect("read").expect("more body");
            while chunk.has_remaining() {
                let part = chunk.chunk();
                decoder.push(part);
                let n = part.len();
                chunk.advance(n);
            }
            if let Some(capsule) = decoder.next_capsule().expect("capsules") {
                return (capsule.capsule_type, capsule.value.to_vec());
            }
        }
    })
    .await;
    assert_eq!(reply, (DATAGRAM_CAPSULE, b"\x00echo:hello".to_vec()));

    // Closing the request ends the association.
    stream.finish().await.expect("finish");
    with_deadline("the association's end", async {
        while server
            .seen
            .lock()
            .expect("not poisoned")
            .finished
            .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let seen = server.seen.lock().expect("not poisoned");
    assert_eq!(seen.sent, vec![(to, b"hello".to_vec())]);
    assert_eq!(seen.finished, vec!["closed"]);
}

#[tokio::test]
async fn missing_or_bad_credentials_get_407_with_a_basic_challenge() {
    let server = start_server("auth").await;
    let mut client = connect(&server, true).await;
    let to = target("192.0.2.7:443");
    for (authorization, reason) in [(None, "auth_required"), (Some("Basic dTp4"), "auth_failed")] {
        let (response, mut stream) = connect_udp(&mut client, &to, authorization).await;
        assert_eq!(response.status(), 407, "{response:?}");
        assert_eq!(
            header(&response, "proxy-authenticate"),
            "Basic realm=\"egressd\""
        );
        assert!(header(&response, "proxy-status").contains(&format!("details=\"{reason}\"")));
        assert_eq!(body_text(&mut stream).await, format!("{reason}\n"));
    }
    let seen = server.seen.lock().expect("not poisoned");
    assert_eq!(seen.rejected, vec!["auth_required", "auth_failed"]);
    assert!(seen.associations.is_empty());
}

#[tokio::test]
async fn a_refused_target_gets_its_status_and_close_reason() {
    let server = start_server("refused").await;
    let mut client = connect(&server, true).await;
    let to = target(&format!("192.0.2.7:{REFUSED_PORT}"));
    let (response, mut stream) = connect_udp(&mut client, &to, Some(GOOD)).await;
    assert_eq!(response.status(), 403, "{response:?}");
    assert_eq!(
        header(&response, "proxy-status"),
        "egressd; error=http_request_denied; details=\"udp_disabled\""
    );
    assert_eq!(body_text(&mut stream).await, "udp_disabled\n");
    // The same connection still serves the next request.
    let (response, _stream) = connect_udp(&mut client, &target("192.0.2.7:443"), Some(GOOD)).await;
    assert_eq!(response.status(), 200, "{response:?}");
}

#[tokio::test]
async fn other_requests_are_refused_and_the_connection_survives() {
    let server = start_server("other").await;
    let mut client = connect(&server, true).await;
    let path = target_path(&target("192.0.2.7:443"));
    let cases = [
        (
            http::Method::GET,
            None,
            path.clone(),
            405,
            "method_not_allowed",
        ),
        (
            http::Method::CONNECT,
            Some(h3::ext::Protocol::WEB_TRANSPORT),
            path.clone(),
            501,
            "protocol_not_supported",
        ),
        (
            http::Method::CONNECT,
            Some(h3::ext::Protocol::CONNECT_UDP),
            "/somewhere/else".to_owned(),
            404,
            "not_a_connect_udp_path",
        ),
        (
            http::Method::CONNECT,
            Some(h3::ext::Protocol::CONNECT_UDP),
            "/.well-known/masque/udp/192.0.2.7/0/".to_owned(),
            400,
            "bad_target",
        ),
    ];
    for (method, protocol, path, status, reason) in cases {
        let (response, mut stream) =
            request(&mut client, method, protocol, &path, Some(GOOD)).await;
        assert_eq!(response.status(), status, "{path}: {response:?}");
        assert_eq!(body_text(&mut stream).await, format!("{reason}\n"));
    }
    let (response, _stream) = connect_udp(&mut client, &target("192.0.2.7:443"), Some(GOOD)).await;
    assert_eq!(response.status(), 200, "{response:?}");
    let seen = server.seen.lock().expect("not poisoned");
    assert_eq!(
        seen.rejected,
        vec![
            "method_not_allowed",
            "protocol_not_supported",
            "not_a_connect_udp_path",
            "bad_target"
        ]
    );
}
