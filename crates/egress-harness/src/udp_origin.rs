//! A whoami origin over UDP: answers each datagram with the source address and port it came
//! from (`203.0.113.10:40123`), so a test observes what a destination sees of UDP relayed
//! through the gateway.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{HarnessError, Netns};

/// How often the origin's thread looks whether it should stop.
const POLL: Duration = Duration::from_millis(100);

/// A UDP whoami origin inside a namespace; dropping it stops it.
#[derive(Debug)]
pub struct UdpOrigin {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<SocketAddr>>>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpOrigin {
    /// Starts an origin on `addr` inside `ns` (port 0 picks a free port; see [`UdpOrigin::addr`]).
    pub fn start(ns: &Netns, addr: SocketAddr) -> Result<UdpOrigin, HarnessError> {
        let socket = ns.bind_udp(addr)?;
        let io_error = |action: &str, source| HarnessError::Io {
            namespace: ns.name().to_owned(),
            action: format!("{action} for the UDP origin on {addr}"),
            source,
        };
        socket
            .set_read_timeout(Some(POLL))
            .map_err(|source| io_error("setting the read timeout", source))?;
        let addr = socket
            .local_addr()
            .map_err(|source| io_error("reading the bound address", source))?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name(format!("udp-origin-{addr}"))
            .spawn({
                let seen = Arc::clone(&seen);
                let stopping = Arc::clone(&stopping);
                move || serve(&socket, &seen, &stopping)
            })
            .map_err(|source| io_error("starting the thread", source))?;
        Ok(UdpOrigin {
            addr,
            seen,
            stopping,
            thread: Some(thread),
        })
    }

    /// The address the origin listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The sources of the datagrams received so far, in order (IPv4-mapped shown as IPv4).
    pub fn seen(&self) -> Vec<SocketAddr> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn serve(socket: &UdpSocket, seen: &Mutex<Vec<SocketAddr>>, stopping: &AtomicBool) {
    let mut buf = vec![0u8; 65_535];
    while !stopping.load(Ordering::Relaxed) {
        match socket.recv_from(&mut buf) {
            Ok((_, from)) => {
                let from = SocketAddr::new(from.ip().to_canonical(), from.port());
                seen.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(from);
                let _ = socket.send_to(from.to_string().as_bytes(), from);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                eprintln!("udp origin: {e}");
                return;
            }
        }
    }
}

impl Drop for UdpOrigin {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
