//! The connection towards a destination: a socket this node dialled, or a stream through a node
//! of another location that dialled it (inter-node forwarding).

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::relay::{close_reason, relay, Relay, RelayOutcome};

/// Read size of a forwarded stream's relay: 64 KiB moves bulk in few calls while every buffer
/// below it (HTTP/2 frames, TLS records) stays under the allocator's mmap threshold.
const STREAM_CHUNK: usize = 64 * 1024;

/// Any byte stream a relay can drive.
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> ByteStream for T {}

/// The connection towards a destination.
pub enum Upstream {
    /// Dialled by this node from a local source address.
    Local(TcpStream),
    /// Carried by a node of another location, which dialled the destination.
    Forwarded {
        /// The stream through the other node.
        stream: Box<dyn ByteStream>,
        /// The source address and port that node dialled from, as it reported them.
        egress: Option<SocketAddr>,
    },
}

impl Upstream {
    /// The source address and port the destination sees.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Upstream::Local(s) => s.local_addr().ok(),
            Upstream::Forwarded { egress, .. } => *egress,
        }
    }
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upstream::Local(s) => f.debug_tuple("Local").field(s).finish(),
            Upstream::Forwarded { egress, .. } => {
                f.debug_struct("Forwarded").field("egress", egress).finish()
            }
        }
    }
}

impl AsyncRead for Upstream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Upstream::Local(s) => Pin::new(s).poll_read(cx, buf),
            Upstream::Forwarded { stream: s, .. } => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Upstream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Upstream::Local(s) => Pin::new(s).poll_write(cx, buf),
            Upstream::Forwarded { stream: s, .. } => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Upstream::Local(s) => Pin::new(s).poll_flush(cx),
            Upstream::Forwarded { stream: s, .. } => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Upstream::Local(s) => Pin::new(s).poll_shutdown(cx),
            Upstream::Forwarded { stream: s, .. } => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Relays a client and its upstream, owning both, until both directions close, an error, or
/// `idle` passes with no byte either way; the sockets close when it is dropped. Local
/// upstreams take the zero-copy path of [`Relay`].
pub fn relay_upstream(client: TcpStream, upstream: Upstream, idle: Duration) -> UpstreamRelay {
    match upstream {
        Upstream::Local(stream) => UpstreamRelay::Local {
            relay: relay(client, stream, idle),
        },
        // Boxed so that a local tunnel's task does not reserve room for the stream relay.
        Upstream::Forwarded { mut stream, .. } => UpstreamRelay::Forwarded {
            relay: Box::pin(async move {
                let mut client = client;
                relay_streams(&mut client, &mut stream, idle).await
            }),
        },
    }
}

pin_project! {
    /// The relay of a client and its upstream (see [`relay_upstream`]).
    #[project = UpstreamRelayProj]
    pub enum UpstreamRelay {
        /// A socket this node dialled.
        Local { #[pin] relay: Relay },
        /// A stream through a node of another location.
        Forwarded { relay: Pin<Box<dyn Future<Output = RelayOutcome> + Send>> },
    }
}

impl Future for UpstreamRelay {
    type Output = RelayOutcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RelayOutcome> {
        match self.project() {
            UpstreamRelayProj::Local { relay } => relay.poll(cx),
            UpstreamRelayProj::Forwarded { relay } => relay.as_mut().poll(cx),
        }
    }
}

/// Relays any two byte streams, counting bytes; `a` → `b` is "up".
pub async fn relay_streams<A, B>(a: &mut A, b: &mut B, idle: Duration) -> RelayOutcome
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let activity = Activity::new();
    let (up, down) = (AtomicU64::new(0), AtomicU64::new(0));
    let (mut a_read, mut a_write) = tokio::io::split(a);
    let (mut b_read, mut b_write) = tokio::io::split(b);
    let both = std::pin::pin!(async {
        let (x, y) = tokio::join!(
            copy_counting(&mut a_read, &mut b_write, &up, &activity),
            copy_counting(&mut b_read, &mut a_write, &down, &activity)
        );
        x.and(y)
    });
    outcome(both, &activity, idle, (&up, &down)).await
}

/// Copies until the reader closes, then shuts the writer's direction down.
async fn copy_counting<R, W>(
    from: &mut R,
    to: &mut W,
    bytes: &AtomicU64,
    activity: &Activity,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf: Vec<u8> = Vec::new();
    loop {
        if buf.capacity() == 0 {
            buf.reserve_exact(STREAM_CHUNK);
        }
        buf.clear();
        let n = from.read_buf(&mut buf).await?;
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        to.write_all(&buf[..n]).await?;
        bytes.fetch_add(n as u64, Ordering::Relaxed);
        activity.touch();
    }
}

/// Milliseconds since the relay started at which a byte last moved, either way.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }

    /// Returns once no byte has moved for `idle`.
    async fn quiet_for(&self, idle: Duration) {
        loop {
            let quiet = self.idle_for();
            if quiet >= idle {
                return;
            }
            tokio::time::sleep(idle - quiet).await;
        }
    }
}

/// Waits for both directions to end, or for `idle` without a byte either way; then reads the
/// byte counts (up, down). `both` is pinned by the caller: an async fn keeps its arguments for
/// its whole life, so a future passed by value would take room twice in every tunnel's task.
async fn outcome<F: std::future::Future<Output = io::Result<()>>>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_relay_both_ways_and_count_bytes() {
        let (mut client, mut client_side) = tokio::io::duplex(4096);
        let (mut upstream_side, mut origin) = tokio::io::duplex(4096);
        let relay = tokio::spawn(async move {
            relay_streams(
                &mut client_side,
                &mut upstream_side,
                Duration::from_secs(10),
            )
            .await
        });
        client.write_all(b"ping").await.expect("write");
        client.shutdown().await.expect("shutdown");
        let mut got = Vec::new();
        origin.read_to_end(&mut got).await.expect("read");
        assert_eq!(got, b"ping");
        let body = vec![7u8; 1 << 20];
        let len = body.len();
        // The origin writes while the client reads: the duplex pipes hold 4 KiB.
        let writer = tokio::spawn(async move {
            origin.write_all(&body).await.expect("write body");
            origin.shutdown().await.expect("shutdown origin");
        });
        let mut received = Vec::new();
        client.read_to_end(&mut received).await.expect("read body");
        assert_eq!(received.len(), len);
        writer.await.expect("writer");
        let outcome = relay.await.expect("relay");
        assert_eq!((outcome.bytes_up, outcome.bytes_down), (4, 1 << 20));
        assert_eq!(outcome.close_reason, "closed");
    }

    #[tokio::test]
    async fn a_quiet_stream_is_closed_with_idle_timeout() {
        let (_client, mut client_side) = tokio::io::duplex(64);
        let (mut upstream_side, _origin) = tokio::io::duplex(64);
        let outcome = relay_streams(
            &mut client_side,
            &mut upstream_side,
            Duration::from_millis(100),
        )
        .await;
        assert_eq!(outcome.close_reason, "idle_timeout");
    }
}
