//! A small blocking HTTP/1.1 client for the admin API, for the CLI commands that use it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Where the API is and how to authenticate.
#[derive(Debug, Clone)]
pub struct ApiClient {
    /// `host:port` of the admin listener.
    authority: String,
    token: Option<String>,
}

/// An answer: status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
}

/// Percent-encodes one path segment (policy ids may hold spaces).
pub fn segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ApiClient {
    /// `api` is `http://host:port` (the scheme is optional); the token comes from `--token`
    /// or `EGRESSD_TOKEN`.
    pub fn new(api: &str, token: Option<String>) -> Result<ApiClient, String> {
        let authority = api
            .strip_prefix("http://")
            .unwrap_or(api)
            .trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') || api.starts_with("https://") {
            return Err(format!(
                "--api {api}: give http://HOST:PORT of the admin listener"
            ));
        }
        let token = token.or_else(|| std::env::var("EGRESSD_TOKEN").ok());
        Ok(ApiClient {
            authority: authority.to_string(),
            token,
        })
    }

    /// Sends a request; a non-2xx answer becomes an error naming the API's message.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, String> {
        let answer = self.raw(method, path, body)?;
        if (200..300).contains(&answer.status) {
            return Ok(answer);
        }
        let code = answer.body["error"].as_str().unwrap_or("error");
        let message = answer.body["message"].as_str().unwrap_or("");
        let mut text = format!("{method} {path}: {} {code}: {message}", answer.status);
        if let Some(problems) = answer.body["problems"].as_array() {
            for p in problems {
                text.push_str(&format!(
                    "\n  {}: {} [{}]",
                    p["path"].as_str().unwrap_or(""),
                    p["message"].as_str().unwrap_or(""),
                    p["rule"].as_str().unwrap_or("")
                ));
            }
        }
        Err(text)
    }

    fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, String> {
        let io = |e: std::io::Error| format!("admin API at {}: {e}", self.authority);
        let mut stream = connect(&self.authority).map_err(io)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(io)?;
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\n", self.authority);
        if let Some(token) = &self.token {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if body.is_some() {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                payload.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(&payload);
        stream.write_all(request.as_bytes()).map_err(io)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(io)?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("the API answered without a head")?;
        let head = String::from_utf8_lossy(&raw[..split]);
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("the API answered without a status")?;
        let mut body = raw[split + 4..].to_vec();
        if head.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("transfer-encoding:")
                && l.to_ascii_lowercase().contains("chunked")
        }) {
            body = dechunk(&body);
        }
        let body = if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&body).into())
            })
        };
        Ok(Answer { status, body })
    }
}

/// Connects to the first address of `authority` that answers, giving each a few seconds: an
/// unreachable API fails fast instead of waiting for the kernel's connect timeout.
fn connect(authority: &str) -> std::io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = None;
    for addr in authority.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("the name resolves to no address")))
}

/// Time to connect to the admin API.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..end])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        let stop = (start + size).min(data.len());
        out.extend_from_slice(&data[start..stop]);
        data = data.get(stop + 2..).unwrap_or(&[]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(segment("bank via lax"), "bank%20via%20lax");
        assert_eq!(segment("a/b"), "a%2Fb");
        assert_eq!(dechunk(b"5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n"), b"hello!");
    }
}
