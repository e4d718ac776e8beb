//! HTTP/1.1 proxy on-ramp: CONNECT tunnels and absolute-form requests with keep-alive.

use std::net::SocketAddr;
use std::sync::Arc;

use egress_model::{TargetAddr, TargetHost};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::gateway::{
    AuthError, Authorized, Gateway, Listener, OnRamp, OpenError, OpenRequest, Opened, Session,
};
use super::io::{read_message, ReadError};
use super::{Connection, Established, OnRampSettings, Tunnel};
use crate::http_head::{
    connect_established, error_response, forwarded_headers, is_keep_alive, parse_request_head,
    parse_response_head, proxy_authorization_basic, serialize_origin_request, BodyLength,
    ChunkedDecoder, HeadError, RequestHead, RequestTarget, ResponseHead, Version,
};
use crate::{Host, Parsed};

const PROXY_AUTHENTICATE: (&str, &str) = ("Proxy-Authenticate", "Basic realm=\"egressd\"");

/// Serves one HTTP proxy client connection to its end. Not an async fn: its arguments would
/// stay in the task's state for the tunnel's whole life; here they move into the boxed
/// request handling at once.
pub fn handle_http<G: Gateway>(
    client: TcpStream,
    peer: SocketAddr,
    listener: Arc<Listener>,
    gateway: Arc<G>,
    settings: Arc<OnRampSettings>,
) -> impl std::future::Future<Output = ()> + Send {
    let idle = settings.idle_timeout;
    Connection::new(
        serve_requests(client, peer, listener, gateway, settings),
        idle,
    )
}

/// Serves requests until the client leaves (`None`) or a CONNECT tunnel is established.
async fn serve_requests<G: Gateway>(
    mut client: TcpStream,
    peer: SocketAddr,
    listener: Arc<Listener>,
    gateway: Arc<G>,
    settings: Arc<OnRampSettings>,
) -> Option<Established> {
    let mut buf = Vec::with_capacity(2048);
    let limits = settings.head_limits;
    let parse = move |b: &[u8]| -> Result<Parsed<RequestHead>, ReadError> {
        parse_request_head(b, &limits).map_err(|e| head_error(&e))
    };
    let mut upstream: Option<Upstream> = None;
    loop {
        let head = match read_message(&mut client, &mut buf, settings.head_timeout, parse).await {
            Ok(head) => head,
            // A keep-alive client that closes between requests is a normal end.
            Err(ReadError::Truncated) if buf.is_empty() => return None,
            Err(e) => {
                let (status, reason) = match &e {
                    ReadError::Protocol { reason, status, .. } => (*status, *reason),
                    ReadError::Timeout => (408, "request_timeout"),
                    _ => (400, e.close_reason()),
                };
                if !matches!(e, ReadError::Io | ReadError::Truncated) {
                    let _ = client.write_all(&error_response(status, reason, &[])).await;
                }
                {
                    gateway.reject(&listener, peer, onramp_of(None), reason);
                    return None;
                }
            }
        };
        let onramp = onramp_of(Some(&head));
        let credentials = match proxy_authorization_basic(&head) {
            None => None,
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                let _ = client
                    .write_all(&error_response(e.status(), e.reason(), &[]))
                    .await;
                {
                    gateway.reject(&listener, peer, onramp, e.reason());
                    return None;
                }
            }
        };
        let who = match gateway
            .authorize(
                &listener,
                peer,
                credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
            )
            .await
        {
            Ok(who) => who,
            Err(e) => {
                let response = match e {
                    AuthError::SourceNotAllowed(_) => error_response(403, e.close_reason(), &[]),
                    _ => error_response(407, e.close_reason(), &[PROXY_AUTHENTICATE]),
                };
                let _ = client.write_all(&response).await;
                {
                    gateway.reject(&listener, peer, onramp, e.close_reason());
                    return None;
                }
            }
        };
        let target = target_of(&head.target);
        if head.is_connect() {
            drop(upstream.take());
            // Nothing of the handshake may stay alive across the tunnel's awaits: an idle
            // tunnel should hold its two sockets and its record, little else.
            drop(head);
            drop(credentials);
            return open_tunnel(
                client,
                buf,
                gateway
                    .open(OpenRequest {
                        who,
                        peer,
                        onramp,
                        target,
                    })
                    .await,
            )
            .await
            .map(Established::Tunnel);
        }
        // A keep-alive client asking the same target again, as the same identity, reuses the
        // upstream connection (and its plan and port slot) instead of dialling anew.
        let reusable = upstream
            .as_ref()
            .is_some_and(|u| u.target == target && u.who == who);
        if !reusable {
            drop(upstream.take());
            let request = OpenRequest {
                who: who.clone(),
                peer,
                onramp,
                target: target.clone(),
            };
            match gateway.open(request).await {
                Ok(opened) => upstream = Some(Upstream::new(target, who, opened)),
                Err(e) => {
                    // The response says `Connection: close`: an unread request body cannot be
                    // mistaken for the next request.
                    let _ = client
                        .write_all(&error_response(e.http_status(), e.close_reason, &[]))
                        .await;
                    return None;
                }
            }
        }
        let u = upstream
            .as_mut()
            .expect("an upstream was kept or just opened");
        let keep_alive = is_keep_alive(&head);
        let request = serialize_origin_request(&head, &forwarded_headers(&head, &settings.via));
        match forward_exchange(
            &mut client,
            &mut u.stream,
            &mut buf,
            &head,
            &request,
            &settings,
        )
        .await
        {
            Ok((up, down, upstream_reusable)) => {
                u.up += up;
                u.down += down;
                if !upstream_reusable {
                    drop(upstream.take());
                }
                if !keep_alive {
                    let _ = client.shutdown().await;
                    return None;
                }
            }
            Err((up, down, reason)) => {
                u.up += up;
                u.down += down;
                u.reason = reason;
                return None;
            }
        }
    }
}

/// Answers a CONNECT: the tunnel to relay, or `None` when it could not be opened.
async fn open_tunnel(
    mut client: TcpStream,
    buf: Vec<u8>,
    opened: Result<Opened, OpenError>,
) -> Option<Tunnel> {
    let mut opened = match opened {
        Ok(o) => o,
        Err(e) => {
            let _ = client
                .write_all(&error_response(e.http_status(), e.close_reason, &[]))
                .await;
            return None;
        }
    };
    if client.write_all(connect_established()).await.is_err() {
        opened.session.finish(0, 0, "client_write_error");
        return None;
    }
    if !buf.is_empty() && opened.stream.write_all(&buf).await.is_err() {
        opened.session.finish(0, 0, "upstream_write_error");
        return None;
    }
    Some(Tunnel {
        client,
        opened,
        early: buf.len() as u64,
    })
}

/// An upstream connection kept across requests of one keep-alive client; its log record is
/// written when it is dropped, with the bytes of every request it carried.
struct Upstream {
    target: TargetAddr,
    who: Authorized,
    stream: egress_net::Upstream,
    session: Option<Box<dyn Session>>,
    up: u64,
    down: u64,
    reason: &'static str,
}

impl Upstream {
    fn new(target: TargetAddr, who: Authorized, opened: Opened) -> Self {
        Upstream {
            target,
            who,
            stream: opened.stream,
            session: Some(opened.session),
            up: 0,
            down: 0,
            reason: "closed",
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            session.finish(self.up, self.down, self.reason);
        }
    }
}

fn onramp_of(head: Option<&RequestHead>) -> OnRamp {
    match head {
        Some(h) if !h.is_connect() => OnRamp::HttpForward,
        _ => OnRamp::HttpConnect,
    }
}

fn head_error(e: &HeadError) -> ReadError {
    ReadError::Protocol {
        reply: None,
        reason: e.reason(),
        status: e.status(),
    }
}

fn target_of(target: &RequestTarget) -> TargetAddr {
    let host = match target.host() {
        Host::Ip(ip) => TargetHost::Ip(*ip),
        Host::Name(n) => TargetHost::Name(n.clone()),
    };
    TargetAddr {
        host,
        port: target.port(),
    }
}

type Exchange = Result<(u64, u64, bool), (u64, u64, &'static str)>;

/// Sends one request (head and body) and relays its response; says whether the client
/// connection can carry another request.
async fn forward_exchange(
    client: &mut TcpStream,
    upstream: &mut egress_net::Upstream,
    buf: &mut Vec<u8>,
    head: &RequestHead,
    request: &[u8],
    settings: &OnRampSettings,
) -> Exchange {
    let (mut up, mut down) = (0u64, 0u64);
    if upstream.write_all(request).await.is_err() {
        // Nothing was answered yet: the client hears why instead of a bare close.
        let reason = "upstream_write_error";
        let _ = client.write_all(&error_response(502, reason, &[])).await;
        return Err((0, 0, reason));
    }
    up += request.len() as u64;
    match copy_body(client, upstream, buf, &head.body).await {
        Ok(n) => up += n,
        Err(reason) => {
            // The request body did not reach the destination (502) or was malformed (400).
            let status = match reason {
                "body_write_error" => Some(502),
                "bad_chunked_body" => Some(400),
                _ => None,
            };
            if let Some(status) = status {
                let _ = client.write_all(&error_response(status, reason, &[])).await;
            }
            return Err((up, down, reason));
        }
    }
    let mut rbuf = Vec::with_capacity(4096);
    loop {
        let response = loop {
            match parse_response_head(&rbuf, &head.method, &settings.head_limits) {
                Ok(Parsed::Complete { head, consumed }) => break (head, consumed),
                Ok(Parsed::Partial) => {}
                Err(_) => {
                    let _ = client
                        .write_all(&error_response(502, "bad_upstream_response", &[]))
                        .await;
                    return Err((up, down, "bad_upstream_response"));
                }
            }
            rbuf.reserve(4096);
            let read =
                tokio::time::timeout(settings.idle_timeout, upstream.read_buf(&mut rbuf)).await;
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    let _ = client
                        .write_all(&error_response(502, "upstream_closed", &[]))
                        .await;
                    return Err((up, down, "upstream_closed"));
                }
                Ok(Ok(_)) => {}
                Err(_) => {
                    let _ = client
                        .write_all(&error_response(504, "upstream_timeout", &[]))
                        .await;
                    return Err((up, down, "upstream_timeout"));
                }
            }
        };
        let (resp, consumed) = response;
        // A final response whose whole body came with its head goes out in one write (one
        // `send` instead of two for the common small response).
        let arrived = (rbuf.len() - consumed) as u64;
        let whole_body = match resp.body {
            BodyLength::None => Some(0),
            BodyLength::ContentLength(n) if n <= arrived => Some(n as usize),
            _ => None,
        };
        if let (Some(body), false) = (whole_body, resp.is_interim()) {
            let end = consumed + body;
            if client.write_all(&rbuf[..end]).await.is_err() {
                return Err((up, down, "client_write_error"));
            }
            return Ok((up, down + end as u64, upstream_reusable(&resp)));
        }
        if client.write_all(&rbuf[..consumed]).await.is_err() {
            return Err((up, down, "client_write_error"));
        }
        down += consumed as u64;
        rbuf.drain(..consumed);
        if resp.is_interim() {
            continue;
        }
        return match copy_body(upstream, client, &mut rbuf, &resp.body).await {
            Ok(n) => Ok((up, down + n, upstream_reusable(&resp))),
            Err(reason) => Err((up, down, reason)),
        };
    }
}

/// Whether the origin keeps the connection open after this response.
fn upstream_reusable(resp: &ResponseHead) -> bool {
    let says = |token: &str| {
        resp.headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("connection")
                && value
                    .split(|&b| b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    let persistent = match resp.version {
        Version::Http11 => !says("close"),
        Version::Http10 => says("keep-alive"),
    };
    persistent && resp.body != BodyLength::UntilClose
}

/// Copies one body framed as `body` from `from` (starting with what is in `buf`) to `to`.
/// Bytes after the body stay in `buf`.
async fn copy_body<R, W>(
    from: &mut R,
    to: &mut W,
    buf: &mut Vec<u8>,
    body: &BodyLength,
) -> Result<u64, &'static str>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut copied = 0u64;
    match body {
        BodyLength::None => Ok(0),
        BodyLength::ContentLength(total) => {
            let mut left = *total;
            loop {
                let take = (buf.len() as u64).min(left) as usize;
                if take > 0 {
                    to.write_all(&buf[..take])
                        .await
                        .map_err(|_| "body_write_error")?;
                    buf.drain(..take);
                    left -= take as u64;
                    copied += take as u64;
                }
                if left == 0 {
                    return Ok(copied);
                }
                fill(from, buf).await?;
            }
        }
        BodyLength::Chunked => {
            let mut decoder = ChunkedDecoder::new();
            loop {
                if !buf.is_empty() {
                    let progress = decoder.feed(buf).map_err(|_| "bad_chunked_body")?;
                    to.write_all(&buf[..progress.consumed])
                        .await
                        .map_err(|_| "body_write_error")?;
                    copied += progress.consumed as u64;
                    buf.drain(..progress.consumed);
                    if progress.done {
                        return Ok(copied);
                    }
                }
                fill(from, buf).await?;
            }
        }
        BodyLength::UntilClose => {
            if !buf.is_empty() {
                to.write_all(buf).await.map_err(|_| "body_write_error")?;
                copied += buf.len() as u64;
                buf.clear();
            }
            let n = tokio::io::copy(from, to)
                .await
                .map_err(|_| "body_copy_error")?;
            Ok(copied + n)
        }
    }
}

async fn fill<R: AsyncRead + Unpin>(from: &mut R, buf: &mut Vec<u8>) -> Result<(), &'static str> {
    // Read straight into the buffer's spare room: no array in the future's state.
    buf.reserve(16 * 1024);
    match from.read_buf(buf).await {
        Ok(0) => Err("truncated_body"),
        Ok(_) => Ok(()),
        Err(_) => Err("body_read_error"),
    }
}
