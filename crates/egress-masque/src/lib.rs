//! The wire formats of proxying UDP over HTTP (MASQUE CONNECT-UDP), as pure functions over
//! bytes so that the HTTP/3 on-ramp and the fleet's HTTP/2 streams share one codec and one
//! fuzz target:
//!
//! - [`varint`]: QUIC variable-length integers (RFC 9000 §16), the unit of every field below;
//! - [`capsule`]: capsules on a request stream (RFC 9297 §3.2), the DATAGRAM capsule among them;
//! - [`datagram`]: the quarter stream ID in front of an HTTP/3 datagram (RFC 9297 §2.1), and
//!   an HTTP datagram's context ID in front of a UDP payload (RFC 9298 §5);
//! - [`target`]: the target host and port in the connect-udp request path (RFC 9298 §2).

pub mod capsule;
pub mod datagram;
pub mod target;
pub mod varint;

pub use capsule::{Capsule, CapsuleDecoder, CapsuleError, DATAGRAM_CAPSULE};
pub use datagram::{
    decode_h3_datagram, decode_udp_payload, encode_h3_datagram_header, encode_udp_payload,
    UdpPayload,
};
pub use target::{parse_target_path, target_path, TargetPathError, CONNECT_UDP_PROTOCOL};
