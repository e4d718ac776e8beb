//! The payload of an HTTP datagram on a connect-udp request (RFC 9298 §5): a context ID, then
//! for context 0 one whole UDP payload. Other contexts belong to extensions this proxy has not
//! negotiated, and their datagrams are dropped.

use crate::varint;

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
    fn other_contexts_and_empty_datagrams_are_not_udp() {
        assert_eq!(decode_udp_payload(b"\x02abc"), UdpPayload::OtherContext(2));
        assert_eq!(decode_udp_payload(b""), UdpPayload::Malformed);
        assert_eq!(decode_udp_payload(b"\x40"), UdpPayload::Malformed);
    }
}
