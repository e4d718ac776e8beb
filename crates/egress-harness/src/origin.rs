//! A whoami origin: answers each TCP connection with the address it came from, like icanhazip,
//! so a test observes the source address a destination really sees.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use crate::acceptor::Acceptor;
use crate::{HarnessError, Netns};

/// How long the origin waits for a request before answering in plain text anyway.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// A request head longer than this is answered in plain text without reading further.
const MAX_REQUEST_HEAD: usize = 8192;

/// A whoami origin listening inside a namespace, normally the topology's internet.
///
/// Speaks two dialects on one port:
/// - plain: the client sends a line (or just half-closes); the origin answers `IP\n` and closes;
/// - HTTP/1.x: the client sends a request head; the origin answers `200 OK`, body `IP\n`.
///
/// Every accepted peer is recorded, in order, whether or not it sent a request. Dropping the
/// origin stops it.
#[derive(Debug)]
pub struct Origin {
    acceptor: Acceptor,
}

impl Origin {
    /// Starts an origin on `addr` inside `ns` (port 0 picks a free port; see [`Origin::addr`]).
    pub fn start(ns: &Netns, addr: SocketAddr) -> Result<Origin, HarnessError> {
        let acceptor = Acceptor::start(ns, addr, "origin", |stream, peer: SocketAddr| {
            let _ = answer(stream, &[], peer.ip());
        })?;
        Ok(Origin { acceptor })
    }

    /// The address the origin listens on.
    pub fn addr(&self) -> SocketAddr {
        self.acceptor.addr()
    }

    /// The peers accepted so far, in order (IPv4-mapped IPv6 peers shown as IPv4).
    pub fn seen(&self) -> Vec<SocketAddr> {
        self.acceptor.seen()
    }
}

/// Answers one whoami request with `ip`; `already_read` is what the caller read off the
/// stream before the request (after a PROXY header, say) and counts as its start.
pub(crate) fn answer(mut stream: TcpStream, already_read: &[u8], ip: IpAddr) -> io::Result<()> {
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let body = format!("{ip}\n");
    if read_request(&mut already_read.chain(&mut stream))? == Dialect::Http {
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )?;
    } else {
        stream.write_all(body.as_bytes())?;
    }
    stream.shutdown(Shutdown::Write)
}

#[derive(Debug, PartialEq, Eq)]
enum Dialect {
    Plain,
    Http,
}

/// Reads until the request shows its dialect: a full HTTP head, or any other first line.
fn read_request(stream: &mut impl Read) -> io::Result<Dialect> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(dialect) = dialect_of(&head) {
            return Ok(dialect);
        }
        if head.len() > MAX_REQUEST_HEAD {
            return Ok(Dialect::Plain);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(Dialect::Plain),
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(Dialect::Plain)
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// The dialect once enough of the request is in, `None` while more is needed.
fn dialect_of(head: &[u8]) -> Option<Dialect> {
    let line_end = head.iter().position(|&b| b == b'\n')?;
    let first_line = String::from_utf8_lossy(&head[..line_end]);
    if !first_line.trim_end().ends_with("HTTP/1.1") && !first_line.trim_end().ends_with("HTTP/1.0")
    {
        return Some(Dialect::Plain);
    }
    let complete =
        head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n");
    complete.then_some(Dialect::Http)
}

/// Asks a whoami origin (over a stream that reaches it, directly or through a tunnel) which
/// address it saw, in the plain dialect.
pub fn ask_whoami(stream: &mut TcpStream) -> Result<IpAddr, HarnessError> {
    let whoami = |source| HarnessError::Whoami { source };
    stream.write_all(b"\n").map_err(whoami)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(whoami)?;
    answer
        .trim()
        .parse()
        .map_err(|_| HarnessError::BadWhoamiAnswer { answer })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_line_or_silence_is_plain() {
        assert_eq!(read_request(&mut &b"\n"[..]).ok(), Some(Dialect::Plain));
        assert_eq!(read_request(&mut &b""[..]).ok(), Some(Dialect::Plain));
        assert_eq!(
            read_request(&mut &b"hello\n"[..]).ok(),
            Some(Dialect::Plain)
        );
    }

    #[test]
    fn an_http_head_is_http_once_complete() {
        let request = b"GET / HTTP/1.1\r\nHost: origin\r\n\r\n";
        assert_eq!(read_request(&mut &request[..]).ok(), Some(Dialect::Http));
        assert_eq!(dialect_of(b"GET / HTTP/1.1\r\nHost: origin\r\n"), None);
    }
}
