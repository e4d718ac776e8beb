//! SOCKS5 (RFC 1928) with username/password authentication (RFC 1929), server side.
//!
//! The exchange is greeting → method selection → (user/pass sub-negotiation) → request →
//! reply; after a CONNECT reply the stream is a tunnel, after UDP ASSOCIATE datagrams carry
//! the [`UdpHeader`].

pub(crate) mod addr;
mod error;
mod handshake;
pub(crate) mod request;
pub(crate) mod udp;

pub use addr::TargetAddr;
pub use error::SocksError;
pub use handshake::{
    encode_auth_status, encode_greeting, encode_method_selection, encode_user_pass, parse_greeting,
    parse_user_pass, select_method, Greeting, Method, UserPass,
};
pub use request::{encode_reply, encode_request, parse_request, Command, Reply, Request};
pub use udp::{encode_udp_header, parse_udp_header, UdpHeader};

/// The SOCKS protocol version byte.
pub const SOCKS_VERSION: u8 = 0x05;
/// The RFC 1929 sub-negotiation version byte.
pub const USER_PASS_VERSION: u8 = 0x01;

#[cfg(test)]
mod tests;
