//! HTTP datagrams. In HTTP/3 a QUIC DATAGRAM frame carries one, behind the quarter stream ID
//! of the request it belongs to (RFC 9297 §2.1). Its payload on a connect-udp request (RFC
//! 9298 §5) is a context ID, then for context 0 one whole UDP payload. Other contexts belong to
//! extensions this proxy has not negotiated, and their datagrams are dropped.

use crate::varint;

/// The largest quarter stream ID (RFC 9297 §2.1): stream IDs stop at 2^62 − 1.
const MAX_QUARTER_STREAM_ID: u64 = (1 << 60) - 1;

/// Splits a QUIC DATAGRAM frame's payload into the request stream it belongs to (a
/// client-initiated bidirectional stream ID) and the HTTP datagram payload; `None` when it is
/// too short or names a stream ID that cannot exist (RFC 9297 makes that a connection error;
/// a proxy may as well drop the datagram).
pub fn decode_h3_datagram(frame: &[u8]) -> Option<(u64, &[u8])> {
    let (quarter, len) = varint::decode(frame)?;
    (quarter <= MAX_QUARTER_STREAM_ID).then(|| (quarter * 4, &frame[len..]))
}

/// Appends the quarter stream ID of request stream `stream_id`, to be followed by the HTTP
/// datagram payload.
///
/// # Panics
/// When `stream_id` is not a client-initiated bidirectional stream ID (a multiple of 4):
/// only requests carry datagrams, and the caller has the ID from a request stream.
pub fn encode_h3_datagram_header(stream_id: u64, out: &mut Vec<u8>) {
    assert!(
        stream_id.is_multiple_of(4),
        "HTTP datagrams belong to client-initiated bidirectional streams"
    );
    varint::encode(stream_id / 4, out);
}

/// What one HTTP datagram carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpPayload<'a> {
    /// Context 0: a UDP payload to relay.
    Udp(&'a [u8]),
    /// A context this proxy does not know: drop the datagram.
    OtherContext(u64),
    /// Too short to hold a context ID: drop the datagram.
    Malformed,
}

/// Reads an HTTP datagram's payload.
pub fn decode_udp_payload(datagram: &[u8]) -> UdpPayload<'_> {
    match varint::decode(datagram) {
        Some((0, len)) => UdpPayload::Udp(&datagram[len..]),
        Some((context, _)) => UdpPayload::OtherContext(context),
        None => UdpPayload::Malformed,
    }
}

/// Appends an HTTP datagram's payload for a UDP payload (context 0).
pub fn encode_udp_payload(payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(payload.len() + 1);
    varint::encode(0, out);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_zero_carries_the_udp_payload() {
        let mut out = Vec::new();
        encode_udp_payload(b"quic", &mut out);
        assert_eq!(out, b"\x00quic");
        assert_eq!(decode_udp_payload(&out), UdpPayload::Udp(b"quic"));
        assert_eq!(decode_udp_payload(b"\x00"), UdpPayload::Udp(b""));
    }

    #[test]
    fn the_quarter_stream_id_names_the_request_stream() {
        let mut frame = Vec::new();
        encode_h3_datagram_header(8, &mut frame);
        encode_udp_payload(b"quic", &mut frame);
        assert_eq!(frame, b"\x02\x00quic");
        assert_eq!(decode_h3_datagram(&frame), Some((8, &b"\x00quic"[..])));
        // Stream 400 needs a two-byte quarter ID (100 > 63).
        let mut frame = Vec::new();
        encode_h3_datagram_header(400, &mut frame);
        assert_eq!(decode_h3_datagram(&frame), Some((400, &b""[..])));
        assert_eq!(decode_h3_datagram(b""), None);
        assert_eq!(decode_h3_datagram(b"\x40"), None);
        // 2^60 is one more than the largest quarter stream ID.
        let mut frame = Vec::new();
        varint::encode(1 << 60, &mut frame);
        assert_eq!(decode_h3_datagram(&frame), None);
    }

    proptest::proptest! {
        #[test]
        fn an_h3_datagram_reads_back(quarter in 0..=MAX_QUARTER_STREAM_ID, payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let mut frame = Vec::new();
            encode_h3_datagram_header(quarter * 4, &mut frame);
            frame.extend_from_slice(&payload);
            proptest::prop_assert_eq!(decode_h3_datagram(&frame), Some((quarter * 4, &payload[..])));
        }
    }

    #[test]
    fn other_contexts_and_empty_datagrams_are_not_udp() {
        assert_eq!(decode_udp_payload(b"\x02abc"), UdpPayload::OtherContext(2));
        assert_eq!(decode_udp_payload(b""), UdpPayload::Malformed);
        assert_eq!(decode_udp_payload(b"\x40"), UdpPayload::Malformed);
    }
}
