//! Opening a connection to the origin the way a client of each proxy does: directly, through an
//! HTTP CONNECT tunnel, through SOCKS5 (no authentication), or to an HTTP proxy that takes
//! absolute-form requests; then exchanging requests on it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{deadline, LoadError};
use crate::http::{read_head, read_response, Response};

/// How the load generator reaches the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Straight to the target (or to a plain TCP relay given as the target).
    Direct,
    /// HTTP CONNECT tunnel through the proxy.
    Connect,
    /// SOCKS5 CONNECT (no authentication) through the proxy.
    Socks5,
    /// Absolute-form requests to an HTTP proxy (no tunnel).
    Forward,
}

/// The address of the proxy the load generator talks to.
#[derive(Debug, Clone, Copy)]
pub struct ProxyAddr(pub SocketAddr);

/// The origin's address: what the proxy is asked to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginAddr(pub SocketAddr);

/// Everything needed to open a connection to an origin.
#[derive(Debug, Clone)]
pub struct Route {
    /// How.
    pub mode: Mode,
    /// Through which proxy (`None` for direct).
    pub proxy: Option<ProxyAddr>,
    /// Deadline of every stage.
    pub timeout: Duration,
}

/// A GET request serialised once and sent many times.
#[derive(Debug, Clone)]
pub struct Request {
    bytes: Vec<u8>,
    path: String,
}

impl Route {
    /// The request a client of this route sends for `path` on `origin`.
    pub fn request(&self, origin: OriginAddr, path: &str, close: bool) -> Request {
        let target = match self.mode {
            Mode::Forward => format!("http://{}{path}", origin.0),
            _ => path.to_string(),
        };
        let connection = if close { "close" } else { "keep-alive" };
        let bytes = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: {connection}\r\n\r\n",
            origin.0
        )
        .into_bytes();
        Request {
            bytes,
            path: path.to_string(),
        }
    }

    /// Connects and, for a tunnel, completes the handshake; the connection then reaches `origin`.
    pub async fn open(&self, origin: OriginAddr) -> Result<Conn, LoadError> {
        let addr = match (self.mode, self.proxy) {
            (Mode::Direct, _) => origin.0,
            (_, Some(proxy)) => proxy.0,
            (_, None) => return Err(LoadError::Setup("this mode needs --proxy".into())),
        };
        let mut stream = deadline("connect", self.timeout, async {
            TcpStream::connect(addr)
                .await
                .map_err(|source| LoadError::Connect { addr, source })
        })
        .await?;
        let _ = stream.set_nodelay(true);
        let mut buf = Vec::with_capacity(4096);
        match self.mode {
            Mode::Direct | Mode::Forward => {}
            Mode::Connect => {
                deadline(
                    "handshake",
                    self.timeout,
                    http_connect(&mut stream, &mut buf, origin.0),
                )
                .await?
            }
            Mode::Socks5 => {
                deadline(
                    "handshake",
                    self.timeout,
                    socks5_connect(&mut stream, origin.0),
                )
                .await?
            }
        }
        Ok(Conn {
            stream,
            buf,
            timeout: self.timeout,
        })
    }
}

/// An open connection (or tunnel) to the origin.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
}

impl Conn {
    /// Sends `request` and reads the whole response; a status other than 200 is an error.
    pub async fn exchange(&mut self, request: &Request) -> Result<Response, LoadError> {
        deadline("request", self.timeout, async {
            self.stream
                .write_all(&request.bytes)
                .await
                .map_err(LoadError::io("request"))
        })
        .await?;
        let response = read_response(&mut self.stream, &mut self.buf, self.timeout).await?;
        if response.status != 200 {
            return Err(LoadError::Status {
                path: request.path.clone(),
                status: response.status,
            });
        }
        Ok(response)
    }
}

async fn http_connect(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    origin: SocketAddr,
) -> Result<(), LoadError> {
    let request = format!("CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(LoadError::io("handshake"))?;
    let end = read_head(stream, buf, "handshake").await?;
    let status = buf
        .get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| LoadError::Protocol {
            what: "connect_response",
            detail: String::from_utf8_lossy(&buf[..end.min(60)]).into_owned(),
        })?;
    if !(200..300).contains(&status) {
        return Err(LoadError::ConnectStatus {
            target: origin,
            status,
        });
    }
    buf.drain(..end);
    Ok(())
}

async fn socks5_connect(stream: &mut TcpStream, origin: SocketAddr) -> Result<(), LoadError> {
    socks5_request(stream, SOCKS5_CONNECT, origin)
        .await
        .map(drop)
}

/// RFC 1928 command CONNECT.
pub const SOCKS5_CONNECT: u8 = 1;
/// RFC 1928 command UDP ASSOCIATE.
pub const SOCKS5_UDP_ASSOCIATE: u8 = 3;

/// Greets without authentication, sends `command` for `addr` and reads the reply: the bound
/// address (`None` when the proxy named it by domain).
pub async fn socks5_request(
    stream: &mut TcpStream,
    command: u8,
    addr: SocketAddr,
) -> Result<Option<SocketAddr>, LoadError> {
    let io = LoadError::io("handshake");
    stream.write_all(&[5, 1, 0]).await.map_err(io)?;
    let mut choice = [0u8; 2];
    read_exact(stream, &mut choice).await?;
    if choice != [5, 0] {
        return Err(LoadError::SocksReply {
            target: addr,
            reply: choice[1],
        });
    }
    let mut request = vec![5, command, 0];
    match addr {
        SocketAddr::V4(a) => {
            request.push(1);
            request.extend_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            request.push(4);
            request.extend_from_slice(&a.ip().octets());
        }
    }
    request.extend_from_slice(&addr.port().to_be_bytes());
    stream
        .write_all(&request)
        .await
        .map_err(LoadError::io("handshake"))?;
    let mut head = [0u8; 4];
    read_exact(stream, &mut head).await?;
    if head[0] != 5 || head[1] != 0 {
        return Err(LoadError::SocksReply {
            target: addr,
            reply: head[1],
        });
    }
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut len = [0u8; 1];
            read_exact(stream, &mut len).await?;
            usize::from(len[0]) + 2
        }
        other => {
            return Err(LoadError::Protocol {
                what: "socks_reply",
                detail: format!("address type {other}"),
            })
        }
    };
    let mut bound = [0u8; 18 + 255];
    read_exact(stream, &mut bound[..rest]).await?;
    let port = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    Ok(match head[3] {
        1 => {
            let ip: [u8; 4] = bound[..4].try_into().expect("four bytes read");
            Some(SocketAddr::new(ip.into(), port(&bound[4..6])))
        }
        4 => {
            let ip: [u8; 16] = bound[..16].try_into().expect("sixteen bytes read");
            Some(SocketAddr::new(ip.into(), port(&bound[16..18])))
        }
        _ => None,
    })
}

async fn read_exact(stream: &mut TcpStream, into: &mut [u8]) -> Result<(), LoadError> {
    match stream.read_exact(into).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(LoadError::Closed { stage: "handshake" })
        }
        Err(e) => Err(LoadError::io("handshake")(e)),
    }
}
