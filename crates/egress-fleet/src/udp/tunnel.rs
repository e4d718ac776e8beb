//! The ingress node's side of a forwarded UDP flow: payloads go into a bounded queue that a
//! task writes to the stream as capsules; another task reads the destination's replies into a
//! bounded queue. Both queues drop datagrams when full (UDP may lose them), so a slow link or
//! a slow reader never holds memory without limit.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use super::{DatagramReader, DatagramWriter, LINK_ERROR, STREAM_CLOSED};

/// Payloads waiting to be written to the stream.
const SEND_QUEUE: usize = 64;
/// Replies waiting for the caller.
const RECEIVE_QUEUE: usize = 64;

/// A UDP flow forwarded through a node of another location, which sends to one destination
/// from the requested source and relays only that destination's replies.
#[derive(Debug)]
pub struct UdpTunnel {
    /// The source address and port the egress node sends from, as it reported them.
    pub egress: Option<SocketAddr>,
    /// Sends payloads to the destination.
    pub sender: UdpSender,
    /// The destination's replies.
    pub receiver: UdpReceiver,
}

/// Sends payloads through a forwarded UDP flow; the flow's stream ends when every sender is
/// dropped.
#[derive(Debug, Clone)]
pub struct UdpSender {
    queue: mpsc::Sender<Vec<u8>>,
}

/// Why a payload was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UdpSendError {
    /// The queue towards the egress node is full: the datagram is dropped.
    #[error("the forwarded flow's send queue is full")]
    Full,
    /// The flow's stream has ended.
    #[error("the forwarded flow has ended")]
    Closed,
}

impl UdpSender {
    /// Queues one payload without waiting.
    pub fn send(&self, payload: &[u8]) -> Result<(), UdpSendError> {
        self.queue.try_send(payload.to_vec()).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => UdpSendError::Full,
            mpsc::error::TrySendError::Closed(_) => UdpSendError::Closed,
        })
    }
}

/// The replies of a forwarded UDP flow.
#[derive(Debug)]
pub struct UdpReceiver {
    queue: mpsc::Receiver<Vec<u8>>,
    ended: Arc<OnceLock<&'static str>>,
}

/// A forwarded UDP flow's stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("forwarded UDP flow ended ({close_reason})")]
pub struct UdpStreamEnded {
    /// `fleet_stream_closed` when the egress node ended it, else `fleet_link_error`.
    pub close_reason: &'static str,
}

impl UdpReceiver {
    /// The next reply; after the stream ended, why.
    pub async fn recv(&mut self) -> Result<Vec<u8>, UdpStreamEnded> {
        match self.queue.recv().await {
            Some(payload) => Ok(payload),
            None => Err(UdpStreamEnded {
                close_reason: self.ended.get().copied().unwrap_or(LINK_ERROR),
            }),
        }
    }
}

impl UdpTunnel {
    /// Starts relaying over `stream`, a stream the egress node answered 200 on.
    pub(crate) fn start<S>(stream: S, egress: Option<SocketAddr>) -> UdpTunnel
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(stream);
        let (send_tx, send_rx) = mpsc::channel(SEND_QUEUE);
        let (receive_tx, receive_rx) = mpsc::channel(RECEIVE_QUEUE);
        let ended = Arc::new(OnceLock::new());
        tokio::spawn(write_payloads(send_rx, DatagramWriter::new(write)));
        tokio::spawn(read_replies(
            DatagramReader::new(read),
            receive_tx,
            Arc::clone(&ended),
        ));
        UdpTunnel {
            egress,
            sender: UdpSender { queue: send_tx },
            receiver: UdpReceiver {
                queue: receive_rx,
                ended,
            },
        }
    }
}

/// Writes queued payloads until every sender is gone, then ends this side of the stream.
async fn write_payloads<W: AsyncWrite + Unpin>(
    mut queue: mpsc::Receiver<Vec<u8>>,
    mut writer: DatagramWriter<W>,
) {
    while let Some(payload) = queue.recv().await {
        if writer.send(&payload).await.is_err() {
            // Dropping the queue tells senders the flow is closed.
            return;
        }
    }
    let _ = writer.finish().await;
}

/// Reads replies until the stream ends or the receiver is dropped.
async fn read_replies<R: AsyncRead + Unpin>(
    mut reader: DatagramReader<R>,
    queue: mpsc::Sender<Vec<u8>>,
    ended: Arc<OnceLock<&'static str>>,
) {
    let close_reason = loop {
        tokio::select! {
            next = reader.next() => match next {
                // A full queue loses the reply rather than stall the stream.
                Ok(Some(payload)) => { let _ = queue.try_send(payload); }
                Ok(None) => break STREAM_CLOSED,
                Err(e) => {
                    tracing::debug!(error = %e, "forwarded UDP flow's stream failed");
                    break LINK_ERROR;
                }
            },
            () = queue.closed() => return,
        }
    };
    let _ = ended.set(close_reason);
}
