//! MASQUE on-ramp: CONNECT-UDP (RFC 9298) over HTTP/3, so that a client can tunnel UDP (and
//! so QUIC and HTTP/3) through the gateway.
//!
//! Each QUIC connection runs an HTTP/3 server (extended CONNECT and HTTP datagrams announced
//! in SETTINGS). A request is served only as `CONNECT` with `:protocol connect-udp` and the
//! default URI template's path; it is authorised as on the HTTP proxy (`Proxy-Authorization:
//! Basic`, or the client's source prefix), then its one target is decided by the gateway
//! before the answer: a refusal is a 4xx/5xx with the close reason in `Proxy-Status`, success
//! a 200 with `Capsule-Protocol: ?1`, after which [`relay`] moves the datagrams.

mod datagrams;
mod relay;
mod request;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use h3::server::RequestResolver;
use tokio::task::JoinSet;
use tokio::time::timeout;

use self::datagrams::{read_datagrams, Demux};
use self::relay::Relay;
use self::request::{connect_udp_target, credentials, proxy_status, Refusal};
use super::gateway::{AssociateRequest, AuthError, Gateway, Listener, OnRamp};
use super::OnRampSettings;

pub use tls::{server_config, MasqueTlsError};

/// What every request of a connection shares.
struct Context<G> {
    listener: Arc<Listener>,
    gateway: Arc<G>,
    settings: Arc<OnRampSettings>,
    peer: SocketAddr,
    connection: quinn::Connection,
    demux: Arc<Demux>,
}

impl<G: Gateway> Context<G> {
    fn reject(&self, close_reason: &str) {
        self.gateway
            .reject(&self.listener, self.peer, OnRamp::Masque, close_reason);
    }
}

/// Serves one QUIC connection of a MASQUE listener to its end: the handshake, then every
/// request on it, each in a task of its own.
pub async fn handle_masque<G: Gateway>(
    incoming: quinn::Incoming,
    listener: Arc<Listener>,
    gateway: Arc<G>,
    settings: Arc<OnRampSettings>,
) {
    let peer = incoming.remote_address();
    let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
    let reject = |reason: &str| gateway.reject(&listener, peer, OnRamp::Masque, reason);
    let connecting = match incoming.accept() {
        Ok(connecting) => connecting,
        Err(_) => return reject("quic_handshake_failed"),
    };
    let connection = match timeout(settings.head_timeout, connecting).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(_)) => return reject("quic_handshake_failed"),
        Err(_) => return reject("handshake_timeout"),
    };
    let mut builder = h3::server::builder();
    builder
        .enable_extended_connect(true)
        .enable_datagram(true)
        .max_field_section_size(settings.head_limits.max_head_bytes as u64);
    let h3 = builder.build::<_, Bytes>(h3_quinn::Connection::new(connection.clone()));
    let mut h3 = match timeout(settings.head_timeout, h3).await {
        Ok(Ok(h3)) => h3,
        Ok(Err(_)) => return reject("h3_setup_failed"),
        Err(_) => return reject("handshake_timeout"),
    };
    let demux = Arc::new(Demux::default());
    let reader = tokio::spawn(read_datagrams(connection.clone(), Arc::clone(&demux)));
    let context = Arc::new(Context {
        listener,
        gateway,
        settings,
        peer,
        connection,
        demux,
    });
    let mut requests = JoinSet::new();
    loop {
        tokio::select! {
            accepted = h3.accept() => match accepted {
                Ok(Some(resolver)) => {
                    requests.spawn(serve_request(resolver, Arc::clone(&context)));
                }
                // The client said GOAWAY, or the connection closed.
                Ok(None) | Err(_) => break,
            },
            Some(_) = requests.join_next(), if !requests.is_empty() => {}
        }
    }
    // The HTTP/3 connection closes the QUIC connection when dropped: keep it for the tunnels.
    while requests.join_next().await.is_some() {}
    reader.abort();
    drop(h3);
}

type Resolver = RequestResolver<h3_quinn::Connection, Bytes>;
type Stream = h3::server::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

/// Serves one request: refuses it with a status, or answers 200 and relays its tunnel.
async fn serve_request<G: Gateway>(resolver: Resolver, context: Arc<Context<G>>) {
    let settings = &context.settings;
    let (request, mut stream) =
        match timeout(settings.head_timeout, resolver.resolve_request()).await {
            Ok(Ok(resolved)) => resolved,
            // h3 has reset the stream (or answered 431) already.
            Ok(Err(_)) => return context.reject("malformed_request"),
            Err(_) => return context.reject("request_timeout"),
        };
    let stream_id = stream.id();
    // Datagrams may arrive before the answer (RFC 9298 §5): queue them from now on.
    let registration = context.demux.register(stream_id.index() * 4);
    let protocol = request
        .extensions()
        .get::<h3::ext::Protocol>()
        .map(h3::ext::Protocol::as_str);
    let path = request.uri().path_and_query().map_or("", |p| p.as_str());
    let target = match connect_udp_target(request.method(), protocol, path) {
        Ok(target) => target,
        Err(refusal) => return refuse(&context, &mut stream, &refusal, None).await,
    };
    let credentials = match credentials(request.headers()) {
        None => None,
        Some(Ok(credentials)) => Some(credentials),
        Some(Err(refusal)) => return refuse(&context, &mut stream, &refusal, None).await,
    };
    drop(request);
    let authorized = context
        .gateway
        .authorize(
            &context.listener,
            context.peer,
            credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        )
        .await;
    drop(credentials);
    let who = match authorized {
        Ok(who) => who,
        Err(e) => {
            let (status, challenge) = match e {
                AuthError::SourceNotAllowed(_) => (403, None),
                _ => (407, Some(PROXY_AUTHENTICATE)),
            };
            let refusal = Refusal {
                status,
                close_reason: e.close_reason(),
                proxy_error: "http_request_denied",
            };
            return refuse(&context, &mut stream, &refusal, challenge).await;
        }
    };
    let associated = context
        .gateway
        .associate(AssociateRequest {
            who,
            peer: context.peer,
            onramp: OnRamp::Masque,
            target: Some(target.clone()),
            idle_timeout: settings.idle_timeout,
        })
        .await;
    let associated = match associated {
        Ok(associated) => associated,
        // The gateway logged the refusal.
        Err(e) => return answer(&context, &mut stream, &Refusal::of_open(&e), None).await,
    };
    let accepted = http::Response::builder()
        .status(200)
        .header("capsule-protocol", "?1")
        .body(())
        .expect("a static response is valid");
    if stream.send_response(accepted).await.is_err() {
        associated.association.finish("client_write_error");
        return;
    }
    let (send, recv) = stream.split();
    Relay {
        connection: context.connection.clone(),
        stream_id: stream_id.index() * 4,
        target,
        associated,
        registration,
        send,
        recv,
        idle: settings.idle_timeout,
    }
    .run()
    .await;
}

const PROXY_AUTHENTICATE: (&str, &str) = ("proxy-authenticate", "Basic realm=\"egressd\"");

/// Answers a request refused before the gateway saw it, and logs it.
async fn refuse<G: Gateway>(
    context: &Context<G>,
    stream: &mut Stream,
    refusal: &Refusal,
    extra: Option<(&str, &str)>,
) {
    answer(context, stream, refusal, extra).await;
    context.reject(refusal.close_reason);
}

/// Sends an error response: the status, `Proxy-Status` with the close reason, and the close
/// reason as a plain-text body.
async fn answer<G>(
    context: &Context<G>,
    stream: &mut Stream,
    refusal: &Refusal,
    extra: Option<(&str, &str)>,
) {
    let mut response = http::Response::builder()
        .status(refusal.status)
        .header("proxy-status", proxy_status(&context.settings.via, refusal))
        .header("content-type", "text/plain; charset=utf-8");
    if let Some((name, value)) = extra {
        response = response.header(name, value);
    }
    let Ok(response) = response.body(()) else {
        return;
    };
    if stream.send_response(response).await.is_ok() {
        let body = Bytes::from(format!("{}\n", refusal.close_reason));
        if stream.send_data(body).await.is_ok() {
            let _ = stream.finish().await;
        }
    }
}

#[cfg(test)]
mod tests;
