//! The origin every scenario talks to: HTTP/1.1 with keep-alive on loopback. `/small` answers
//! five bytes; `/bulk?bytes=N` streams N bytes from one buffer filled at start. A request with
//! `Connection: close` is answered and then the origin closes first, so TIME_WAIT stays here
//! and not on the proxy's egress ports.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::LoadError;
use crate::http::{has_token, head_end, headers};

const SMALL: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
const SMALL_CLOSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";

/// A keep-alive connection with no request for this long is closed.
const IDLE: Duration = Duration::from_secs(900);

/// Serves on every address until the process is stopped.
pub async fn serve(listen: &[SocketAddr], bulk_buffer: usize) -> Result<(), LoadError> {
    let pattern: Arc<[u8]> = (0..bulk_buffer.max(1))
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let mut accepting = tokio::task::JoinSet::new();
    for addr in listen {
        let socket = TcpListener::bind(addr)
            .await
            .map_err(|e| LoadError::Setup(format!("cannot listen on {addr}: {e}")))?;
        eprintln!("egress-loadgen origin: listening on {addr}");
        let pattern = Arc::clone(&pattern);
        accepting.spawn(async move {
            loop {
                match socket.accept().await {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(serve_connection(stream, Arc::clone(&pattern)));
                    }
                    Err(e) => {
                        eprintln!("egress-loadgen origin: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        });
    }
    while accepting.join_next().await.is_some() {}
    Ok(())
}

/// What one request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    Small,
    Bulk(u64),
    NotFound,
}

/// The path of a request line (origin-form or absolute-form) and what it asks for.
fn asked(head: &[u8]) -> Asked {
    let line = head.split(|&b| b == b'\r').next().unwrap_or(&[]);
    let mut parts = line.split(|&b| b == b' ');
    let _method = parts.next();
    let target = parts.next().unwrap_or(&[]);
    let target = std::str::from_utf8(target).unwrap_or("");
    let path = match target.find("://") {
        Some(i) => target[i + 3..]
            .find('/')
            .map_or("/", |j| &target[i + 3 + j..]),
        None => target,
    };
    if path == "/small" {
        return Asked::Small;
    }
    if let Some(query) = path.strip_prefix("/bulk?bytes=") {
        if let Ok(n) = query.parse() {
            return Asked::Bulk(n);
        }
    }
    Asked::NotFound
}

/// Whether the client asked to close after this request (explicitly, or HTTP/1.0 by default).
fn wants_close(head: &[u8]) -> bool {
    let line = head.split(|&b| b == b'\r').next().unwrap_or(&[]);
    let mut close = line.ends_with(b"HTTP/1.0");
    for (name, value) in headers(head) {
        if name.eq_ignore_ascii_case(b"connection")
            || name.eq_ignore_ascii_case(b"proxy-connection")
        {
            if has_token(value, "close") {
                close = true;
            } else if has_token(value, "keep-alive") {
                close = false;
            }
        }
    }
    close
}

/// The request body length, to skip it (the benchmark only sends GETs).
fn content_length(head: &[u8]) -> u64 {
    headers(head)
        .find(|(n, _)| n.eq_ignore_ascii_case(b"content-length"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(0)
}

async fn serve_connection(mut stream: TcpStream, pattern: Arc<[u8]>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    loop {
        let end = loop {
            if let Some(end) = head_end(&buf) {
                break end;
            }
            if buf.len() > 64 * 1024 {
                return;
            }
            buf.reserve(2048);
            match tokio::time::timeout(IDLE, stream.read_buf(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
        };
        let head = &buf[..end];
        let (what, close, body) = (asked(head), wants_close(head), content_length(head));
        buf.drain(..end);
        if skip_body(&mut stream, &mut buf, body).await.is_err() {
            return;
        }
        out.clear();
        let connection = if close { "Connection: close\r\n" } else { "" };
        let result = match what {
            Asked::Small if close => stream.write_all(SMALL_CLOSE).await,
            Asked::Small => stream.write_all(SMALL).await,
            Asked::Bulk(n) => {
                out.extend_from_slice(
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n{connection}\r\n")
                        .as_bytes(),
                );
                match stream.write_all(&out).await {
                    Ok(()) => write_bulk(&mut stream, &pattern, n).await,
                    Err(e) => Err(e),
                }
            }
            Asked::NotFound => {
                out.extend_from_slice(
                    format!("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n{connection}\r\n")
                        .as_bytes(),
                );
                stream.write_all(&out).await
            }
        };
        if result.is_err() {
            return;
        }
        if close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

async fn skip_body(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    mut left: u64,
) -> std::io::Result<()> {
    loop {
        let take = (buf.len() as u64).min(left) as usize;
        buf.drain(..take);
        left -= take as u64;
        if left == 0 {
            return Ok(());
        }
        buf.reserve(16 * 1024);
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

async fn write_bulk(stream: &mut TcpStream, pattern: &[u8], mut left: u64) -> std::io::Result<()> {
    while left > 0 {
        let n = (left as usize).min(pattern.len());
        stream.write_all(&pattern[..n]).await?;
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_and_absolute_form_paths_are_understood() {
        assert_eq!(asked(b"GET /small HTTP/1.1\r\n\r\n"), Asked::Small);
        assert_eq!(
            asked(b"GET http://127.0.0.1:8081/bulk?bytes=42 HTTP/1.1\r\n\r\n"),
            Asked::Bulk(42)
        );
        assert_eq!(asked(b"GET /other HTTP/1.1\r\n\r\n"), Asked::NotFound);
    }

    #[test]
    fn close_is_asked_explicitly_or_by_http10() {
        assert!(wants_close(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
        assert!(wants_close(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(!wants_close(
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        ));
        assert!(!wants_close(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
}
