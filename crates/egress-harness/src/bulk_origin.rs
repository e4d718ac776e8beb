//! A bulk origin: sends each client as many bytes as it asks for, so a test can move a known
//! volume over one path and read which link's byte counters grew.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use crate::acceptor::Acceptor;
use crate::{HarnessError, Netns};

/// How long the origin waits for the byte count.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest request line read (a `u64` in decimal is at most 20 digits).
const MAX_REQUEST_LINE: u64 = 32;
/// Bytes written per `write` call.
const CHUNK: usize = 64 * 1024;

/// An origin that answers a decimal byte count and `\n` with exactly that many bytes, then
/// closes. A request that is not a number is closed without an answer.
///
/// Every accepted peer is recorded, in order. Dropping the origin stops it.
///
/// ```no_run
/// # use std::net::SocketAddr;
/// # use egress_harness::{fetch_bulk, BulkOrigin, Lab, ORIGIN_V4};
/// # let mut lab = Lab::new("doc").expect("lab");
/// # let net = lab.internet(&[]).expect("topology");
/// let origin = BulkOrigin::start(&net.internet, SocketAddr::new(ORIGIN_V4.into(), 9000))
///     .expect("origin");
/// let mut stream = net.gateways[0].ns.connect_tcp(None, origin.addr()).expect("connect");
/// assert_eq!(fetch_bulk(&mut stream, 1 << 20).expect("fetch"), 1 << 20);
/// ```
#[derive(Debug)]
pub struct BulkOrigin {
    acceptor: Acceptor,
}

impl BulkOrigin {
    /// Starts a bulk origin on `addr` inside `ns` (port 0 picks a free port).
    pub fn start(ns: &Netns, addr: SocketAddr) -> Result<BulkOrigin, HarnessError> {
        let acceptor = Acceptor::start(ns, addr, "bulk", |stream, _peer| {
            let _ = serve(stream);
        })?;
        Ok(BulkOrigin { acceptor })
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

fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_REQUEST_LINE)).read_line(&mut line)?;
    let Ok(mut remaining) = line.trim().parse::<u64>() else {
        return stream.shutdown(Shutdown::Both);
    };
    let chunk = [0x5a_u8; CHUNK];
    while remaining > 0 {
        let n = usize::try_from(remaining).map_or(CHUNK, |r| r.min(CHUNK));
        stream.write_all(&chunk[..n])?;
        remaining -= n as u64;
    }
    stream.shutdown(Shutdown::Write)
}

/// Asks a bulk origin (over a stream that reaches it, directly or through a gateway) for
/// `bytes` bytes and reads until it closes; returns how many arrived.
pub fn fetch_bulk(stream: &mut TcpStream, bytes: u64) -> Result<u64, HarnessError> {
    let bulk = |source| HarnessError::Bulk { source };
    writeln!(stream, "{bytes}").map_err(bulk)?;
    io::copy(stream, &mut io::sink()).map_err(bulk)
}
