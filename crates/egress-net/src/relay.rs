//! Copying bytes both ways between client and destination, counting them.
//!
//! Nothing is allocated for an idle tunnel: a buffer exists only while a direction has bytes to
//! move, and is released as soon as the socket has nothing more to read. A direction that
//! carries bulk (a read fills a whole buffer) switches to `splice(2)` through a pipe, so its
//! bytes never enter user space; short tunnels never pay for the pipe.

use std::future::Future;
use std::io::{self, Read};
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use crate::splice::SplicePipe;

/// Size of the buffer a direction reads into while it has bytes to move.
const CHUNK: usize = 64 * 1024;

/// A burst is first read into this much of the poll's stack: a request or a reply usually
/// fits, and is then written straight through, with no heap buffer and no second read.
const STACK_READ: usize = 4 * 1024;

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

/// The log's close reason for how both directions ended.
pub(crate) fn close_reason(result: io::Result<()>) -> &'static str {
    match result {
        Ok(()) => "closed",
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => "connection_reset",
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => "connection_reset",
        Err(_) => "relay_error",
    }
}

/// Relays until both directions close, an error, or `idle` passes with no byte either way;
/// the sockets close when the relay is dropped. Called within a Tokio runtime (the idle timer
/// is created with the future).
pub fn relay(client: TcpStream, upstream: TcpStream, idle: Duration) -> Relay {
    Relay::new(client, upstream, idle)
}

/// Longer idle timeouts are taken as this one (about 136 years), so that `last_move + idle`
/// cannot overflow.
const LONGEST_IDLE: Duration = Duration::from_secs(1 << 32);

pin_project! {
    /// The local relay, written out by hand: an idle tunnel's task is mostly this state, so it
    /// holds both sockets, each direction, its count and one timer, and nothing twice (an
    /// async fn keeps its arguments, and `join!`/`select!` their futures, beside its own
    /// locals).
    pub struct Relay {
        // Each direction reads one socket and writes the other: one reader per socket and
        // direction, so each readiness waker slot has a single user.
        client: TcpStream,
        upstream: TcpStream,
        // Client → destination.
        up: Direction,
        // Destination → client.
        down: Direction,
        // Armed for `last_move + idle` as last known; when it fires after bytes have moved
        // since, it is reset rather than re-created. Inline (hence the pin): boxed it would
        // take its own size again on the heap, plus a pointer, in every tunnel.
        #[pin]
        timer: Sleep,
        // No byte either way for this long closes the tunnel.
        idle: Duration,
        // When a byte last moved either way: touched once per poll that moved any, so that
        // the timer needs no re-arming per write.
        last_move: Instant,
    }
}

impl Relay {
    fn new(client: TcpStream, upstream: TcpStream, idle: Duration) -> Relay {
        let idle = idle.min(LONGEST_IDLE);
        Relay {
            client,
            upstream,
            up: Direction::default(),
            down: Direction::default(),
            timer: tokio::time::sleep(idle),
            idle,
            last_move: Instant::now(),
        }
    }
}

impl Future for Relay {
    type Output = RelayOutcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RelayOutcome> {
        let mut this = self.project();
        let before = this.up.bytes + this.down.bytes;
        let up = this.up.poll_move(cx, &*this.client, &*this.upstream);
        let down = this.down.poll_move(cx, &*this.upstream, &*this.client);
        if this.up.bytes + this.down.bytes != before {
            *this.last_move = Instant::now();
        }
        let close_reason = match (up, down) {
            (Poll::Ready(Err(e)), _) | (_, Poll::Ready(Err(e))) => close_reason(Err(e)),
            (Poll::Ready(Ok(())), Poll::Ready(Ok(()))) => close_reason(Ok(())),
            _ => loop {
                ready!(this.timer.as_mut().poll(cx));
                let due = *this.last_move + *this.idle;
                if due <= this.timer.deadline() {
                    break "idle_timeout";
                }
                // Fired early: bytes moved since it was armed.
                this.timer.as_mut().reset(due);
            },
        };
        Poll::Ready(RelayOutcome {
            bytes_up: this.up.bytes,
            bytes_down: this.down.bytes,
            close_reason,
        })
    }
}

/// One direction of the local relay: what it is doing and the bytes it has written.
#[derive(Default)]
struct Direction {
    bytes: u64,
    pump: Pump,
}

/// How a direction moves its bytes.
enum Pump {
    /// Reading, then writing `buf[written..]` out. A burst is read on the stack first
    /// ([`STACK_READ`]); `buf` holds what the writer did not take at once, or, once a stack
    /// read came back full, is the 64 KiB (not zeroed) bulk buffer, dropped at `WouldBlock`.
    /// An idle direction holds no buffer.
    Copy { buf: Vec<u8>, written: usize },
    /// A read filled the whole buffer: bulk goes through a pipe with `splice(2)`.
    Splice(SplicePipe),
    /// The reader closed and the writer's side was half-closed.
    Done,
}

impl Default for Pump {
    fn default() -> Self {
        Pump::Copy {
            buf: Vec::new(),
            written: 0,
        }
    }
}

impl Direction {
    /// Moves bytes `from` → `to` until both would block (pending), the reader closes (ready)
    /// or an error.
    fn poll_move(
        &mut self,
        cx: &mut Context<'_>,
        from: &TcpStream,
        to: &TcpStream,
    ) -> Poll<io::Result<()>> {
        loop {
            match &mut self.pump {
                Pump::Copy { buf, written } if *written < buf.len() => {
                    ready!(to.poll_write_ready(cx))?;
                    match to.try_write(&buf[*written..]) {
                        Ok(n) => {
                            *written += n;
                            self.bytes += n as u64;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
                Pump::Copy { buf, written } if buf.len() == CHUNK => match SplicePipe::new() {
                    Ok(pipe) => self.pump = Pump::Splice(pipe),
                    // No pipe (out of file descriptors): keep copying through the buffer.
                    Err(_) => {
                        buf.clear();
                        *written = 0;
                    }
                },
                Pump::Copy { buf, written } if buf.capacity() >= CHUNK => {
                    buf.clear();
                    *written = 0;
                    match from.try_read_buf(buf) {
                        Ok(0) => self.pump = Pump::finish(to),
                        Ok(_) => {}
                        // Dry: back to stack reads, and no buffer while idle.
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => *buf = Vec::new(),
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
                Pump::Copy { buf, written } => {
                    // A remainder that was written out: nothing is held while waiting.
                    if buf.capacity() > 0 {
                        *buf = Vec::new();
                    }
                    // `poll_read_ready` waits in the socket's own waker slot; `readable()`
                    // would add a waiter node to every idle tunnel.
                    ready!(from.poll_read_ready(cx))?;
                    let mut stack = [0u8; STACK_READ];
                    let n = match read_burst(from, &mut stack) {
                        Ok(0) => {
                            self.pump = Pump::finish(to);
                            continue;
                        }
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        Err(e) => return Poll::Ready(Err(e)),
                    };
                    let sent = match to.try_write(&stack[..n]) {
                        Ok(sent) => sent,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                        Err(e) => return Poll::Ready(Err(e)),
                    };
                    self.bytes += sent as u64;
                    *written = 0;
                    *buf = if sent < n {
                        stack[sent..n].to_vec()
                    } else if n == STACK_READ {
                        // Full: more is waiting, maybe bulk.
                        Vec::with_capacity(CHUNK)
                    } else {
                        Vec::new()
                    };
                }
                Pump::Splice(pipe) => {
                    ready!(pipe.poll_move(cx, from, to, &mut self.bytes))?;
                    self.pump = Pump::Done;
                }
                Pump::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// Reads what `from` has, up to `stack.len()`. A short read means the socket is drained
/// (edge-triggered readiness), so it is reported to Tokio as `WouldBlock`, which clears the
/// readiness from inside the same readiness check: the next wait needs no extra `recv` that
/// only returns `EAGAIN`. Returns the bytes read (0: the peer closed).
fn read_burst(from: &TcpStream, stack: &mut [u8]) -> io::Result<usize> {
    let mut short = 0;
    let read = from.try_io(Interest::READABLE, || {
        let n = (&*socket2::SockRef::from(from)).read(stack)?;
        if n > 0 && n < stack.len() {
            short = n;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    });
    match read {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && short > 0 => Ok(short),
        other => other,
    }
}

impl Pump {
    /// The reader closed: half-close the writer's side.
    fn finish(to: &TcpStream) -> Pump {
        let _ = socket2::SockRef::from(to).shutdown(Shutdown::Write);
        Pump::Done
    }
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
            relay(client_side, upstream_side, Duration::from_secs(10)).await
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
        let outcome = relay(client_side, upstream_side, Duration::from_millis(200)).await;
        assert_eq!(outcome.close_reason, "idle_timeout");
        assert_eq!((outcome.bytes_up, outcome.bytes_down), (0, 0));
    }

    /// An idle tunnel's task is mostly this state: each direction and the idle timer should
    /// be in it once, with no room kept for a buffer, a splice or a readiness waiter node
    /// (`readable()` would add ~150 bytes per direction).
    #[tokio::test]
    async fn an_idle_relay_holds_each_direction_and_its_timer_once() {
        let (a, b) = pair().await;
        let relay = std::mem::size_of_val(&relay(a, b, Duration::from_secs(1)));
        let direction = std::mem::size_of::<Direction>();
        let timer = std::mem::size_of::<Sleep>();
        assert!(
            relay <= timer + 256,
            "relay state {relay} bytes: directions {direction} each, timer {timer}"
        );
    }

    /// Whether a direction holds a read buffer (it should only while bytes are waiting).
    fn holds_buffer(direction: &Direction) -> bool {
        matches!(&direction.pump, Pump::Copy { buf, .. } if buf.capacity() > 0)
    }

    /// Sends `message` from `from`, and drives the relay until `to` has read it.
    async fn carry(
        mut relay: Pin<&mut Relay>,
        from: &mut TcpStream,
        to: &mut TcpStream,
        message: &[u8],
    ) {
        from.write_all(message).await.expect("write");
        let mut got = vec![0u8; message.len()];
        tokio::select! {
            outcome = relay.as_mut() => panic!("the relay ended: {outcome:?}"),
            read = to.read_exact(&mut got) => read.expect("read"),
        };
        assert_eq!(got, message);
    }

    /// Drives the relay for `quiet`, in which it must not end.
    async fn stay_quiet(mut relay: Pin<&mut Relay>, quiet: Duration) {
        tokio::select! {
            outcome = relay.as_mut() => panic!("the relay ended: {outcome:?}"),
            () = tokio::time::sleep(quiet) => {}
        }
    }

    #[tokio::test]
    async fn a_tunnel_idle_for_a_while_carries_bytes_again_and_holds_no_buffer_meanwhile() {
        let (mut client, client_side) = pair().await;
        let (upstream_side, mut origin) = pair().await;
        let idle = Duration::from_millis(1000);
        let gap = Duration::from_millis(600);
        let mut relay = std::pin::pin!(Relay::new(client_side, upstream_side, idle));

        carry(relay.as_mut(), &mut client, &mut origin, b"first").await;
        assert!(!holds_buffer(&relay.up), "a dry direction keeps its buffer");
        // The gaps add up to more than `idle`, but none is as long.
        stay_quiet(relay.as_mut(), gap).await;
        assert!(!holds_buffer(&relay.up) && !holds_buffer(&relay.down));
        carry(relay.as_mut(), &mut origin, &mut client, b"answer").await;
        stay_quiet(relay.as_mut(), gap).await;
        carry(relay.as_mut(), &mut client, &mut origin, b"again").await;
        assert!(!holds_buffer(&relay.up) && !holds_buffer(&relay.down));

        let quiet_from = Instant::now();
        let outcome = relay.await;
        assert_eq!(outcome.close_reason, "idle_timeout");
        assert_eq!((outcome.bytes_up, outcome.bytes_down), (10, 6));
        let quiet = quiet_from.elapsed();
        assert!(
            quiet + Duration::from_millis(100) >= idle,
            "closed after {quiet:?} without a byte, idle timeout {idle:?}"
        );
    }

    /// One side sends and half-closes; the other reads to the end, answers and closes.
    async fn closes_in_order(client_first: bool) {
        let (mut client, client_side) = pair().await;
        let (upstream_side, mut origin) = pair().await;
        let relay = tokio::spawn(async move {
            relay(client_side, upstream_side, Duration::from_secs(10)).await
        });
        let (first, second) = if client_first {
            (&mut client, &mut origin)
        } else {
            (&mut origin, &mut client)
        };
        first.write_all(b"last words").await.expect("write");
        first.shutdown().await.expect("shutdown");
        let mut got = Vec::new();
        second.read_to_end(&mut got).await.expect("read to the end");
        assert_eq!(got, b"last words");
        second
            .write_all(b"an answer after eof")
            .await
            .expect("answer");
        second.shutdown().await.expect("shutdown");
        let mut answer = Vec::new();
        first
            .read_to_end(&mut answer)
            .await
            .expect("read the answer");
        assert_eq!(answer, b"an answer after eof");

        let outcome = relay.await.expect("relay");
        assert_eq!(outcome.close_reason, "closed");
        let (up, down) = if client_first { (10, 19) } else { (19, 10) };
        assert_eq!((outcome.bytes_up, outcome.bytes_down), (up, down));
    }

    #[tokio::test]
    async fn the_client_closing_first_still_gets_its_answer_then_closed() {
        closes_in_order(true).await;
    }

    #[tokio::test]
    async fn the_origin_closing_first_still_gets_the_request_then_closed() {
        closes_in_order(false).await;
    }

    #[tokio::test]
    async fn a_client_reset_ends_the_relay_with_connection_reset() {
        let (mut client, client_side) = pair().await;
        let (upstream_side, mut origin) = pair().await;
        let relay = tokio::spawn(async move {
            relay(client_side, upstream_side, Duration::from_secs(30)).await
        });
        client.write_all(b"x").await.expect("write");
        let mut got = [0u8; 1];
        origin.read_exact(&mut got).await.expect("read");
        // Closing with a zero linger sends a reset; the origin stays open and silent.
        socket2::SockRef::from(&client)
            .set_linger(Some(Duration::ZERO))
            .expect("linger");
        drop(client);
        let outcome = tokio::time::timeout(Duration::from_secs(5), relay)
            .await
            .expect("the relay ends at the reset")
            .expect("relay");
        assert_eq!(outcome.close_reason, "connection_reset");
        assert_eq!((outcome.bytes_up, outcome.bytes_down), (1, 0));
    }

    #[tokio::test]
    async fn a_bulk_transfer_outlasting_the_idle_timeout_is_not_cut_while_bytes_move() {
        let (mut client, client_side) = pair().await;
        let (upstream_side, mut origin) = pair().await;
        let idle = Duration::from_millis(300);
        let mut relay = std::pin::pin!(Relay::new(client_side, upstream_side, idle));
        // A first megabyte fills whole buffers (the splice path), then slices come slower
        // than the whole transfer may take without a byte.
        let writer = tokio::spawn(async move {
            origin.write_all(&vec![1u8; 1 << 20]).await.expect("bulk");
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(150)).await;
                origin
                    .write_all(&vec![2u8; 64 * 1024])
                    .await
                    .expect("slice");
            }
            origin.shutdown().await.expect("shutdown");
            origin
        });
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.expect("read");
            client.shutdown().await.expect("shutdown");
            (client, got.len())
        });
        let mut spliced = false;
        let outcome = std::future::poll_fn(|cx| {
            let polled = relay.as_mut().poll(cx);
            spliced |= matches!(relay.down.pump, Pump::Splice(_));
            polled
        })
        .await;
        // Checked before joining the peers, which would wait forever on a relay cut short.
        let sent = (1 << 20) + 5 * 64 * 1024;
        assert_eq!(outcome.close_reason, "closed");
        assert_eq!((outcome.bytes_up, outcome.bytes_down), (0, sent as u64));
        assert!(spliced, "the bulk direction never switched to splice");
        let (_client, received) = reader.await.expect("reader");
        assert_eq!(received, sent as usize);
        let _origin = writer.await.expect("writer");
    }

    /// Small messages into a destination that stops reading: the relay's writes come back
    /// short, what they left is kept and written later, and every byte arrives in order.
    #[tokio::test]
    async fn small_messages_to_a_stalled_reader_arrive_whole_and_in_order() {
        let (mut client, client_side) = pair().await;
        let (upstream_side, mut origin) = pair().await;
        let _ = socket2::SockRef::from(&upstream_side).set_send_buffer_size(4096);
        let _ = socket2::SockRef::from(&origin).set_recv_buffer_size(4096);
        let relay = tokio::spawn(async move {
            relay(client_side, upstream_side, Duration::from_secs(10)).await
        });
        let messages: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| format!("message {i:05} {}\n", "x".repeat((i % 97) as usize)).into_bytes())
            .collect();
        let expected: Vec<u8> = messages.concat();
        let sender = tokio::spawn(async move {
            for m in &messages {
                client.write_all(m).await.expect("send");
                tokio::task::yield_now().await;
            }
            client.shutdown().await.expect("shutdown");
            client
        });
        // Start reading only once the relay must have met a full send buffer.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut received = Vec::new();
        origin.read_to_end(&mut received).await.expect("read");
        assert!(
            received == expected,
            "{} of {} bytes, or out of order",
            received.len(),
            expected.len()
        );
        let _client = sender.await.expect("sender");
        drop(origin);
        let outcome = relay.await.expect("relay");
        assert_eq!(outcome.bytes_up, expected.len() as u64);
    }
}
