//! A whoami origin behind PROXY protocol v2, like an on-net destination: it believes the
//! header's source address and records both that and the TCP peer it really saw.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use egress_net::proxy_v2::{self, Decoded, ProxyInfo, ProxyV2Error};

use crate::acceptor::Acceptor;
use crate::origin::answer;
use crate::{HarnessError, Netns};

/// How long the origin waits for a whole PROXY header.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest header possible: 16 fixed bytes and a 16-bit length.
const MAX_HEADER: usize = 16 + u16::MAX as usize;

/// One connection that sent a well-formed PROXY v2 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyV2Seen {
    /// The TCP peer, as the origin's socket saw it (IPv4-mapped shown as IPv4).
    pub tcp_peer: SocketAddr,
    /// What the header said.
    pub header: ProxyInfo,
}

impl ProxyV2Seen {
    /// The source address the header claimed (`None` for LOCAL or address-less families).
    pub fn proxy_source(&self) -> Option<SocketAddr> {
        self.header.source
    }
}

/// Everything the origin recorded, shared with its connection threads.
#[derive(Debug, Default)]
struct Records {
    seen: Vec<ProxyV2Seen>,
    refused: Vec<(SocketAddr, ProxyV2Error)>,
}

/// A whoami origin that requires a PROXY v2 header first and answers, in the whoami dialects
/// (plain `IP\n` or HTTP/1.x), with the header's source address — or with the TCP peer's for a
/// LOCAL header, as the spec asks.
///
/// A connection whose header is malformed is closed without an answer and recorded in
/// [`ProxyV2Origin::refused`]; one that closes or stalls before a whole header is recorded in
/// neither list. Dropping the origin stops it.
#[derive(Debug)]
pub struct ProxyV2Origin {
    acceptor: Acceptor,
    records: Arc<Mutex<Records>>,
}

impl ProxyV2Origin {
    /// Starts the origin on `addr` inside `ns` (port 0 picks a free port).
    pub fn start(ns: &Netns, addr: SocketAddr) -> Result<ProxyV2Origin, HarnessError> {
        let records = Arc::new(Mutex::new(Records::default()));
        let acceptor = Acceptor::start(ns, addr, "proxy-v2", {
            let records = Arc::clone(&records);
            move |stream, peer| {
                let _ = serve(stream, peer, &records);
            }
        })?;
        Ok(ProxyV2Origin { acceptor, records })
    }

    /// The address the origin listens on.
    pub fn addr(&self) -> SocketAddr {
        self.acceptor.addr()
    }

    /// The connections that sent a well-formed header, in the order their headers completed.
    pub fn seen(&self) -> Vec<ProxyV2Seen> {
        self.lock().seen.clone()
    }

    /// The connections whose header was malformed: TCP peer and why.
    pub fn refused(&self) -> Vec<(SocketAddr, ProxyV2Error)> {
        self.lock().refused.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn serve(mut stream: TcpStream, peer: SocketAddr, records: &Mutex<Records>) -> io::Result<()> {
    stream.set_read_timeout(Some(HEADER_TIMEOUT))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let (header, consumed) = loop {
        match proxy_v2::decode(&buf) {
            Ok(Decoded::Complete { header, consumed }) => break (header, consumed),
            Ok(Decoded::Partial) if buf.len() < MAX_HEADER => {}
            Ok(Decoded::Partial) => return Ok(()),
            Err(error) => {
                lock(records).refused.push((peer, error));
                return Ok(());
            }
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    lock(records).seen.push(ProxyV2Seen {
        tcp_peer: peer,
        header,
    });
    let source = proxy_v2::effective_source(&header, peer);
    answer(stream, &buf[consumed..], source.to_canonical())
}

fn lock(records: &Mutex<Records>) -> std::sync::MutexGuard<'_, Records> {
    records.lock().unwrap_or_else(PoisonError::into_inner)
}
