//! Copying bytes both ways between client and destination, counting them.
//!
//! Nothing is allocated for an idle tunnel: a buffer exists only while a direction has bytes to
//! move, and is released as soon as the socket has nothing more to read. A direction that
//! carries bulk (a read fills a whole buffer) switches to `splice(2)` through a pipe, so its
//! bytes never enter user space; short tunnels never pay for the pipe.

use std::io;
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::splice::splice_pump;

/// Size of the buffer a direction reads into while it has bytes to move.
const CHUNK: usize = 64 * 1024;

/// Bytes moved and how the relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayOutcome {
    /// Client → destination.
    pub bytes_up: u64,
    /// Destination → client.
    pub bytes_down: u64,
    /// The close reason for the log.
    pub close_reason: &'static str,
}

/// Milliseconds since the relay started at which a byte last moved, either way.
pub(crate) struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }

    /// Returns once no byte has moved for `idle`.
    pub(crate) async fn quiet_for(&self, idle: Duration) {
        loop {
            let quiet = self.idle_for();
            if quiet >= idle {
                return;
            }
            tokio::time::sleep(idle - quiet).await;
        }
    }
}

/// The log's close reason for how both directions ended.
fn close_reason(result: io::Result<()>) -> &'static str {
    match result {
        Ok(()) => "closed",
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => "connection_reset",
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => "connection_reset",
        Err(_) => "relay_error",
    }
}

/// Relays until both directions close, an error, or `idle` passes with no byte either way.
pub async fn relay(client: &TcpStream, upstream: &TcpStream, idle: Duration) -> RelayOutcome {
    let activity = Activity::new();
    let (up, down) = (AtomicU64::new(0), AtomicU64::new(0));
    let both = std::pin::pin!(async {
        let (a, b) = tokio::join!(
            pump(client, upstream, &up, &activity),
            pump(upstream, client, &down, &activity)
        );
        a.and(b)
    });
    outcome(both, &activity, idle, (&up, &down)).await
}

/// Waits for both directions to end, or for `idle` without a byte either way; then reads the
/// byte counts (up, down). `both` is pinned by the caller: an async fn keeps its arguments for
/// its whole life, so a future passed by value would take room twice in every tunnel's task.
pub(crate) async fn outcome<F: std::future::Future<Output = io::Result<()>>>(
    both: std::pin::Pin<&mut F>,
    activity: &Activity,
    idle: Duration,
    (up, down): (&AtomicU64, &AtomicU64),
) -> RelayOutcome {
    let close_reason = tokio::select! {
        result = both => close_reason(result),
        () = activity.quiet_for(idle) => "idle_timeout",
    };
    RelayOutcome {
        bytes_up: up.load(Ordering::Relaxed),
        bytes_down: down.load(Ordering::Relaxed),
        close_reason,
    }
}

/// Moves one direction until its reader closes; then half-closes the writer.
async fn pump(
    from: &TcpStream,
    to: &TcpStream,
    bytes: &AtomicU64,
    activity: &Activity,
) -> io::Result<()> {
    loop {
        // `poll_read_ready` waits in the socket's own waker slot; `readable()` would put a
        // waiter node (~150 bytes) into every idle tunnel's task. One reader per socket here.
        std::future::poll_fn(|cx| from.poll_read_ready(cx)).await?;
        // Allocated (not zeroed) only now that bytes are waiting; dropped when the socket runs dry.
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
        loop {
            buf.clear();
            match from.try_read_buf(&mut buf) {
                Ok(0) => {
                    let _ = socket2::SockRef::from(to).shutdown(Shutdown::Write);
                    return Ok(());
                }
                Ok(n) => {
                    write_all(to, &buf[..n]).await?;
                    bytes.fetch_add(n as u64, Ordering::Relaxed);
                    activity.touch();
                    if n == CHUNK {
                        drop(buf);
                        // Boxed: only bulk directions pay for the splice state; inline, every
                        // idle tunnel's task would carry it twice.
                        return Box::pin(splice_pump(from, to, bytes, || activity.touch())).await;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
    }
}

async fn write_all(to: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        std::future::poll_fn(|cx| to.poll_write_ready(cx)).await?;
        match to.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let a = TcpStream::connect(l.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (b, _) = l.accept().await.expect("accept");
        (a, b)
    }

    #[tokio::test]
    async fn relays_small_and_bulk_both_ways_and_counts_bytes() {
        let (mut client, client_side) = pair().await;
        let (upstream_side, mut origin) = pair().await;
        let relay = tokio::spawn(async move {
            relay(&client_side, &upstream_side, Duration::from_secs(10)).await
        });
        // Small request, bulk answer (forces the splice path), then both sides close.
        client.write_all(b"hello").await.expect("write");
        let mut got = [0u8; 5];
        origin.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"hello");
        let bulk: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let expected = bulk.clone();
        let writer = tokio::spawn(async move {
            origin.write_all(&bulk).await.expect("bulk");
            origin.shutdown().await.expect("shutdown");
            origin
        });
        let mut received = Vec::new();
        client.shutdown().await.expect("client shutdown");
        client.read_to_end(&mut received).await.expect("read bulk");
        assert!(
            received == expected,
            "bulk bytes differ (len {})",
            received.len()
        );
        let _origin = writer.await.expect("writer");
        let outcome = relay.await.expect("relay");
        assert_eq!(outcome.bytes_up, 5);
        assert_eq!(outcome.bytes_down, expected.len() as u64);
        assert_eq!(outcome.close_reason, "closed");
    }

    #[tokio::test]
    async fn an_idle_tunnel_is_closed_with_idle_timeout() {
        let (_client, client_side) = pair().await;
        let (upstream_side, _origin) = pair().await;
        let outcome = relay(&client_side, &upstream_side, Duration::from_millis(200)).await;
        assert_eq!(outcome.close_reason, "idle_timeout");
        assert_eq!((outcome.bytes_up, outcome.bytes_down), (0, 0));
    }

    /// An idle tunnel's task is mostly this state: each direction and the idle timer should
    /// be in it once. (A future passed by value to an async fn is stored twice; a waiter node
    /// per `readable()` adds ~150 bytes per direction.)
    #[tokio::test]
    async fn an_idle_relay_holds_each_direction_and_its_timer_once() {
        let (a, b) = pair().await;
        let activity = Activity::new();
        let bytes = AtomicU64::new(0);
        let direction = std::mem::size_of_val(&pump(&a, &b, &bytes, &activity));
        let timer = std::mem::size_of_val(&activity.quiet_for(Duration::from_secs(1)));
        let relay = std::mem::size_of_val(&relay(&a, &b, Duration::from_secs(1)));
        assert!(
            relay <= 2 * direction + timer + 256,
            "relay state {relay} bytes: directions {direction} each, timer {timer}"
        );
        let waiting = std::mem::size_of_val(&write_all(&a, b"x"));
        let readable = std::mem::size_of_val(&a.readable());
        assert!(
            waiting < readable,
            "waiting to write takes {waiting} bytes, more than a readiness waiter ({readable})"
        );
    }
}
