//! A whoami origin: answers each TCP connection with the address it came from, like icanhazip,
//! so a test observes the source address a destination really sees.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::Socket;

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
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<SocketAddr>>>,
    stopping: Arc<AtomicBool>,
    /// A second handle on the listening socket, to wake the accept loop on drop.
    waker: Socket,
    acceptor: Option<JoinHandle<()>>,
}

impl Origin {
    /// Starts an origin on `addr` inside `ns` (port 0 picks a free port; see [`Origin::addr`]).
    pub fn start(ns: &Netns, addr: SocketAddr) -> Result<Origin, HarnessError> {
        let listener = ns.listen_tcp(addr)?;
        let io_error = |action: &str, source| HarnessError::Io {
            namespace: ns.name().to_owned(),
            action: format!("{action} for origin on {addr}"),
            source,
        };
        let addr = listener
            .local_addr()
            .map_err(|source| io_error("reading the bound address", source))?;
        let waker = Socket::from(
            listener
                .try_clone()
                .map_err(|source| io_error("cloning the listener", source))?,
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stopping = Arc::new(AtomicBool::new(false));
        let acceptor = std::thread::Builder::new()
            .name(format!("origin-{addr}"))
            .spawn({
                let seen = Arc::clone(&seen);
                let stopping = Arc::clone(&stopping);
                move || accept_loop(&listener, &seen, &stopping)
            })
            .map_err(|source| io_error("starting the accept thread", source))?;
        Ok(Origin {
            addr,
            seen,
            stopping,
            waker,
            acceptor: Some(acceptor),
        })
    }

    /// The address the origin listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The peers accepted so far, in order (IPv4-mapped IPv6 peers shown as IPv4).
    pub fn seen(&self) -> Vec<SocketAddr> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // shutdown() on a listening socket makes a blocked accept() return on Linux.
        let _ = self.waker.shutdown(Shutdown::Both);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, seen: &Mutex<Vec<SocketAddr>>, stopping: &AtomicBool) {
    loop {
        let accepted = listener.accept();
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        // Errors here are per connection (the peer reset before accept); keep serving.
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(peer);
        // One thread per connection, so a slow client does not hold up the others.
        let _ = std::thread::Builder::new()
            .name(format!("origin-conn-{peer}"))
            .spawn(move || {
                let _ = answer(stream, peer.ip());
            });
    }
}

fn answer(mut stream: TcpStream, peer: IpAddr) -> io::Result<()> {
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let body = format!("{peer}\n");
    if read_request(&mut stream)? == Dialect::Http {
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
