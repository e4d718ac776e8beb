//! The accept loop every origin shares: a listener inside a namespace, one thread per
//! connection, the accepted peers in order, and a clean stop when the origin drops.

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use socket2::Socket;

use crate::{HarnessError, Netns};

/// A running accept loop; dropping it stops accepting (connections in progress finish).
#[derive(Debug)]
pub(crate) struct Acceptor {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<SocketAddr>>>,
    stopping: Arc<AtomicBool>,
    /// A second handle on the listening socket, to wake the accept loop on drop.
    waker: Socket,
    thread: Option<JoinHandle<()>>,
}

impl Acceptor {
    /// Listens on `addr` inside `ns` and hands each connection, with its peer (IPv4-mapped
    /// shown as IPv4), to `handle` on a thread of its own.
    pub(crate) fn start<H>(
        ns: &Netns,
        addr: SocketAddr,
        kind: &'static str,
        handle: H,
    ) -> Result<Acceptor, HarnessError>
    where
        H: Fn(TcpStream, SocketAddr) + Send + Sync + 'static,
    {
        let listener = ns.listen_tcp(addr)?;
        let io_error = |action: &str, source| HarnessError::Io {
            namespace: ns.name().to_owned(),
            action: format!("{action} for {kind} on {addr}"),
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
        let thread = std::thread::Builder::new()
            .name(format!("{kind}-{addr}"))
            .spawn({
                let seen = Arc::clone(&seen);
                let stopping = Arc::clone(&stopping);
                let handle = Arc::new(handle);
                move || accept_loop(&listener, &seen, &stopping, kind, &handle)
            })
            .map_err(|source| io_error("starting the accept thread", source))?;
        Ok(Acceptor {
            addr,
            seen,
            stopping,
            waker,
            thread: Some(thread),
        })
    }

    /// The address the listener is bound to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The peers accepted so far, in order.
    pub(crate) fn seen(&self) -> Vec<SocketAddr> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // shutdown() on a listening socket makes a blocked accept() return on Linux.
        let _ = self.waker.shutdown(Shutdown::Both);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop<H>(
    listener: &TcpListener,
    seen: &Mutex<Vec<SocketAddr>>,
    stopping: &AtomicBool,
    kind: &str,
    handle: &Arc<H>,
) where
    H: Fn(TcpStream, SocketAddr) + Send + Sync + 'static,
{
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
        let handle = Arc::clone(handle);
        let _ = std::thread::Builder::new()
            .name(format!("{kind}-conn-{peer}"))
            .spawn(move || handle(stream, peer));
    }
}
