//! Just enough HTTP/1.1 for the benchmark: finding a head, reading its status and framing, and
//! reading (and discarding) a body framed by Content-Length, chunked coding or close.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::error::{deadline, LoadError};

/// Largest head either side accepts.
const MAX_HEAD: usize = 64 * 1024;

/// Size of the scratch buffer a large body is read into and dropped.
const DISCARD_CHUNK: usize = 256 * 1024;

/// Where the head ends (index just past the blank line), if it is complete.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// The header lines of a head (after the start line), as (name, value).
pub fn headers(head: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    head.split(|&b| b == b'\n').skip(1).filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        Some((&line[..colon], trim(&line[colon + 1..])))
    })
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Whether a comma-separated header value holds `token` (case-insensitive).
pub fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
}

/// How a response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// What a response said.
#[derive(Debug, Clone, Copy)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body bytes read.
    pub body_bytes: u64,
    /// The connection cannot carry another request.
    pub close: bool,
}

/// The status and framing of a complete response head.
fn parse_response_head(head: &[u8]) -> Result<(u16, Framing, bool), LoadError> {
    let bad = |detail: &str| LoadError::Protocol {
        what: "response",
        detail: detail.to_string(),
    };
    let line_end = head.iter().position(|&b| b == b'\r').unwrap_or(head.len());
    let line = &head[..line_end];
    let http10 = line.starts_with(b"HTTP/1.0 ");
    if !(http10 || line.starts_with(b"HTTP/1.1 ")) || line.len() < 12 {
        return Err(bad(&format!(
            "status line {:?}",
            String::from_utf8_lossy(&line[..line.len().min(40)])
        )));
    }
    let status = std::str::from_utf8(&line[9..12])
        .ok()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("status code"))?;
    let mut framing = Framing::UntilClose;
    let mut close = http10;
    for (name, value) in headers(head) {
        if name.eq_ignore_ascii_case(b"content-length") && framing != Framing::Chunked {
            let n = std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| bad("content-length"))?;
            framing = Framing::Length(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") && has_token(value, "chunked") {
            framing = Framing::Chunked;
        } else if name.eq_ignore_ascii_case(b"connection")
            || name.eq_ignore_ascii_case(b"proxy-connection")
        {
            if has_token(value, "close") {
                close = true;
            } else if has_token(value, "keep-alive") {
                close = false;
            }
        }
    }
    if status == 204 || status == 304 || (100..200).contains(&status) {
        framing = Framing::Length(0);
    }
    if framing == Framing::UntilClose {
        close = true;
    }
    Ok((status, framing, close))
}

/// Reads from `stream` into `buf` until a whole head is there; returns its length.
pub async fn read_head(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    stage: &'static str,
) -> Result<usize, LoadError> {
    loop {
        if let Some(end) = head_end(buf) {
            return Ok(end);
        }
        if buf.len() > MAX_HEAD {
            return Err(LoadError::Protocol {
                what: "head",
                detail: format!("no end within {MAX_HEAD} bytes"),
            });
        }
        buf.reserve(4096);
        let n = stream.read_buf(buf).await.map_err(LoadError::io(stage))?;
        if n == 0 {
            return Err(LoadError::Closed { stage });
        }
    }
}

/// Reads one response (head and body, body discarded). Bytes after it stay in `buf`.
pub async fn read_response(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> Result<Response, LoadError> {
    let end = deadline(
        "response_head",
        timeout,
        read_head(stream, buf, "response_head"),
    )
    .await?;
    let (status, framing, mut close) = parse_response_head(&buf[..end])?;
    buf.drain(..end);
    let body_bytes = match framing {
        Framing::Length(n) => read_length(stream, buf, n, timeout).await?,
        Framing::Chunked => read_chunked(stream, buf, timeout).await?,
        Framing::UntilClose => {
            close = true;
            read_until_close(stream, buf, timeout).await?
        }
    };
    Ok(Response {
        status,
        body_bytes,
        close,
    })
}

async fn read_more(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> Result<usize, LoadError> {
    buf.reserve(16 * 1024);
    match tokio::time::timeout(timeout, stream.read_buf(buf)).await {
        Err(_) => Err(LoadError::Timeout {
            stage: "body",
            timeout,
        }),
        Ok(Err(e)) => Err(LoadError::io("body")(e)),
        Ok(Ok(n)) => Ok(n),
    }
}

async fn read_length(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    total: u64,
    timeout: Duration,
) -> Result<u64, LoadError> {
    let have = (buf.len() as u64).min(total) as usize;
    buf.drain(..have);
    let mut left = total - have as u64;
    if left == 0 {
        return Ok(total);
    }
    if left < DISCARD_CHUNK as u64 {
        while left > 0 {
            if read_more(stream, buf, timeout).await? == 0 {
                return Err(LoadError::Closed { stage: "body" });
            }
            let take = (buf.len() as u64).min(left) as usize;
            buf.drain(..take);
            left -= take as u64;
        }
        return Ok(total);
    }
    // A large body: read straight into a scratch buffer, never into `buf`.
    let mut scratch = vec![0u8; DISCARD_CHUNK];
    while left > 0 {
        let want = (left as usize).min(DISCARD_CHUNK);
        let n = match tokio::time::timeout(timeout, stream.read(&mut scratch[..want])).await {
            Err(_) => {
                return Err(LoadError::Timeout {
                    stage: "body",
                    timeout,
                })
            }
            Ok(r) => r.map_err(LoadError::io("body"))?,
        };
        if n == 0 {
            return Err(LoadError::Closed { stage: "body" });
        }
        left -= n as u64;
    }
    Ok(total)
}

async fn read_line(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, LoadError> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = buf[..i].to_vec();
            buf.drain(..i + 2);
            return Ok(line);
        }
        if buf.len() > MAX_HEAD {
            return Err(LoadError::Protocol {
                what: "chunk",
                detail: "chunk line too long".into(),
            });
        }
        if read_more(stream, buf, timeout).await? == 0 {
            return Err(LoadError::Closed { stage: "body" });
        }
    }
}

async fn read_chunked(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> Result<u64, LoadError> {
    let mut total = 0u64;
    loop {
        let line = read_line(stream, buf, timeout).await?;
        let digits = line.split(|&b| b == b';').next().unwrap_or(&[]);
        let size = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| u64::from_str_radix(s.trim(), 16).ok())
            .ok_or_else(|| LoadError::Protocol {
                what: "chunk",
                detail: format!("size line {:?}", String::from_utf8_lossy(&line)),
            })?;
        if size == 0 {
            // Trailers, up to the blank line.
            while !read_line(stream, buf, timeout).await?.is_empty() {}
            return Ok(total);
        }
        read_length(stream, buf, size, timeout).await?;
        total += size;
        if !read_line(stream, buf, timeout).await?.is_empty() {
            return Err(LoadError::Protocol {
                what: "chunk",
                detail: "no CRLF after chunk data".into(),
            });
        }
    }
}

async fn read_until_close(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> Result<u64, LoadError> {
    let mut total = buf.len() as u64;
    buf.clear();
    while read_more(stream, buf, timeout).await? > 0 {
        total += buf.len() as u64;
        buf.clear();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_reports_status_length_and_close() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n";
        let (status, framing, close) = parse_response_head(head).expect("valid");
        assert_eq!((status, framing, close), (200, Framing::Length(5), true));
    }

    #[test]
    fn chunked_wins_over_length_and_http10_closes() {
        let head = b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n";
        let (_, framing, close) = parse_response_head(head).expect("valid");
        assert_eq!((framing, close), (Framing::Chunked, true));
    }

    #[test]
    fn a_head_without_length_is_read_until_close() {
        let (_, framing, close) = parse_response_head(b"HTTP/1.1 200 OK\r\n\r\n").expect("valid");
        assert_eq!((framing, close), (Framing::UntilClose, true));
    }

    #[test]
    fn header_tokens_are_case_insensitive() {
        assert!(has_token(b"Keep-Alive, Close", "close"));
        assert!(!has_token(b"closed", "close"));
    }
}
