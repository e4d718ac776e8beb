//! HTTP datagrams of one QUIC connection, handed to the request streams they belong to. One
//! task reads the connection's DATAGRAM frames and passes each to its stream's queue by the
//! quarter stream ID (RFC 9297 §2.1); datagrams for no live request, or for a full queue, are
//! dropped, as UDP may drop them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use egress_masque::decode_h3_datagram;
use tokio::sync::mpsc;

/// Datagrams queued for one request stream before more are dropped.
const QUEUE: usize = 256;

/// The request streams of a connection that take datagrams.
#[derive(Debug, Default)]
pub(crate) struct Demux {
    streams: Mutex<HashMap<u64, mpsc::Sender<Bytes>>>,
}

/// A request stream's place in the demultiplexer; leaving it (drop) stops its datagrams.
#[derive(Debug)]
pub(crate) struct Registration {
    demux: Arc<Demux>,
    stream_id: u64,
    /// HTTP datagram payloads for the stream (the quarter stream ID removed).
    pub(crate) datagrams: mpsc::Receiver<Bytes>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.demux
            .streams
            .lock()
            .expect("never poisoned")
            .remove(&self.stream_id);
    }
}

/// What became of one DATAGRAM frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dispatched {
    Queued,
    /// No live request has this stream ID.
    UnknownStream,
    /// The stream's queue is full.
    Full,
    /// Too short to name a stream.
    Malformed,
}

impl Demux {
    /// Starts taking datagrams for `stream_id` (a request stream's ID).
    pub(crate) fn register(self: &Arc<Self>, stream_id: u64) -> Registration {
        let (tx, datagrams) = mpsc::channel(QUEUE);
        self.streams
            .lock()
            .expect("never poisoned")
            .insert(stream_id, tx);
        Registration {
            demux: Arc::clone(self),
            stream_id,
            datagrams,
        }
    }

    /// Queues one DATAGRAM frame's HTTP datagram for its stream.
    pub(crate) fn dispatch(&self, frame: Bytes) -> Dispatched {
        let Some((stream_id, payload)) = decode_h3_datagram(&frame) else {
            return Dispatched::Malformed;
        };
        let payload = frame.slice_ref(payload);
        let streams = self.streams.lock().expect("never poisoned");
        match streams.get(&stream_id).map(|tx| tx.try_send(payload)) {
            Some(Ok(())) => Dispatched::Queued,
            Some(Err(mpsc::error::TrySendError::Full(_))) => Dispatched::Full,
            // Closed: the request is ending and its registration about to go.
            Some(Err(mpsc::error::TrySendError::Closed(_))) | None => Dispatched::UnknownStream,
        }
    }
}

/// Reads the connection's datagrams until it closes.
pub(crate) async fn read_datagrams(connection: quinn::Connection, demux: Arc<Demux>) {
    while let Ok(frame) = connection.read_datagram().await {
        demux.dispatch(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream_id: u64, payload: &[u8]) -> Bytes {
        let mut out = Vec::new();
        egress_masque::encode_h3_datagram_header(stream_id, &mut out);
        out.extend_from_slice(payload);
        Bytes::from(out)
    }

    #[test]
    fn datagrams_reach_their_stream_until_it_leaves() {
        let demux = Arc::new(Demux::default());
        let mut first = demux.register(0);
        let mut second = demux.register(4);
        assert_eq!(demux.dispatch(frame(4, b"\x00b")), Dispatched::Queued);
        assert_eq!(demux.dispatch(frame(0, b"\x00a")), Dispatched::Queued);
        assert_eq!(
            demux.dispatch(frame(8, b"\x00c")),
            Dispatched::UnknownStream
        );
        assert_eq!(demux.dispatch(Bytes::new()), Dispatched::Malformed);
        assert_eq!(
            first.datagrams.try_recv().ok(),
            Some(Bytes::from_static(b"\x00a"))
        );
        assert_eq!(
            second.datagrams.try_recv().ok(),
            Some(Bytes::from_static(b"\x00b"))
        );
        drop(second);
        assert_eq!(
            demux.dispatch(frame(4, b"\x00d")),
            Dispatched::UnknownStream
        );
        for _ in 0..QUEUE {
            assert_eq!(demux.dispatch(frame(0, b"\x00")), Dispatched::Queued);
        }
        assert_eq!(demux.dispatch(frame(0, b"\x00")), Dispatched::Full);
    }
}
