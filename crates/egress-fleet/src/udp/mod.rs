//! Forwarded UDP flows: a `connect-udp` extended CONNECT stream between two nodes whose bytes
//! are capsules (RFC 9297 §3.2), each UDP payload one DATAGRAM capsule with context ID 0
//! (RFC 9298 §5). The ingress node's handle is in [`tunnel`], the egress node's relay to the
//! destination in [`relay`]; both read and write the stream through the framing here.

pub(crate) mod relay;
pub(crate) mod tunnel;

use std::io;

use egress_masque::{decode_udp_payload, encode_udp_payload, varint};
use egress_masque::{CapsuleDecoder, CapsuleError, UdpPayload, DATAGRAM_CAPSULE};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest UDP payload.
pub(crate) const MAX_PAYLOAD: usize = 65_535;
/// Bytes read from the stream at a time; a longer capsule is assembled by the decoder.
const READ_CHUNK: usize = 16 * 1024;

/// Close reason of a forwarded UDP flow whose stream the other node ended.
pub(crate) const STREAM_CLOSED: &str = "fleet_stream_closed";
/// Close reason of a forwarded UDP flow whose stream failed (link lost, bad capsules).
pub(crate) const LINK_ERROR: &str = "fleet_link_error";

/// Writes UDP payloads as DATAGRAM capsules.
#[derive(Debug)]
pub(crate) struct DatagramWriter<W> {
    writer: W,
}

impl<W: AsyncWrite + Unpin> DatagramWriter<W> {
    pub(crate) fn new(writer: W) -> Self {
        DatagramWriter { writer }
    }

    /// Sends one payload as one capsule.
    pub(crate) async fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        let context = varint::encoded_len(0);
        let mut out = Vec::with_capacity(payload.len() + context + 8);
        varint::encode(DATAGRAM_CAPSULE, &mut out);
        varint::encode((context + payload.len()) as u64, &mut out);
        encode_udp_payload(payload, &mut out);
        self.writer.write_all(&out).await?;
        self.writer.flush().await
    }

    /// Ends this side of the stream.
    pub(crate) async fn finish(&mut self) -> io::Result<()> {
        self.writer.shutdown().await
    }
}

/// Why a stream of capsules cannot be read further.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FramingError {
    #[error("reading the stream: {0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Capsule(#[from] CapsuleError),
}

/// Reads the UDP payloads of DATAGRAM capsules; other capsule types, and datagrams of other
/// contexts, are skipped (RFC 9297 §3.2, RFC 9298 §5).
#[derive(Debug)]
pub(crate) struct DatagramReader<R> {
    reader: R,
    decoder: CapsuleDecoder,
    chunk: Box<[u8]>,
}

impl<R: AsyncRead + Unpin> DatagramReader<R> {
    pub(crate) fn new(reader: R) -> Self {
        DatagramReader {
            reader,
            decoder: CapsuleDecoder::default(),
            chunk: vec![0; READ_CHUNK].into_boxed_slice(),
        }
    }

    /// The next payload, or `None` when the stream ended between capsules.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        loop {
            while let Some(found) = self.decoder.next_capsule()? {
                if found.capsule_type != DATAGRAM_CAPSULE {
                    continue;
                }
                if let UdpPayload::Udp(payload) = decode_udp_payload(found.value) {
                    return Ok(Some(payload.to_vec()));
                }
            }
            let n = self.reader.read(&mut self.chunk).await?;
            if n == 0 {
                self.decoder.finish()?;
                return Ok(None);
            }
            self.decoder.push(&self.chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_capsule(capsule_type: u64, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        egress_masque::capsule::encode(capsule_type, value, &mut out);
        out
    }

    #[tokio::test]
    async fn payloads_cross_as_datagram_capsules_and_other_capsules_are_skipped() {
        let (mut near, far) = tokio::io::duplex(128 * 1024);
        DatagramWriter::new(&mut near)
            .send(b"first")
            .await
            .expect("send");
        // Another capsule type, then a datagram of an unknown context: both skipped.
        near.write_all(&raw_capsule(0x2a, b"not a datagram"))
            .await
            .expect("write");
        near.write_all(&raw_capsule(DATAGRAM_CAPSULE, b"\x02other context"))
            .await
            .expect("write");
        let mut writer = DatagramWriter::new(near);
        writer
            .send(&[7; 40_000])
            .await
            .expect("a payload longer than a chunk");
        writer.send(b"").await.expect("an empty payload");
        writer.finish().await.expect("finish");
        let mut reader = DatagramReader::new(far);
        assert_eq!(reader.next().await.expect("read"), Some(b"first".to_vec()));
        assert_eq!(reader.next().await.expect("read"), Some(vec![7; 40_000]));
        assert_eq!(reader.next().await.expect("read"), Some(Vec::new()));
        assert_eq!(reader.next().await.expect("read"), None);
    }

    #[tokio::test]
    async fn a_stream_that_stops_inside_a_capsule_is_an_error() {
        let (mut near, far) = tokio::io::duplex(64);
        let capsule = raw_capsule(DATAGRAM_CAPSULE, b"\x00truncated");
        near.write_all(&capsule[..5]).await.expect("write");
        drop(near);
        let mut reader = DatagramReader::new(far);
        assert!(matches!(
            reader.next().await,
            Err(FramingError::Capsule(CapsuleError::Truncated { .. }))
        ));
    }
}
