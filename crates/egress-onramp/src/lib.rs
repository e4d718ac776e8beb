//! The client on-ramps: HTTP/1.1 proxy, SOCKS5 and MASQUE (CONNECT-UDP over HTTP/3).
//!
//! [`http_head`] and [`socks5`] are sans-I/O codecs: they touch no socket and no clock.
//! Parsers take the bytes received so far and answer
//! [`Parsed::Complete`] (with how many bytes the message used) or [`Parsed::Partial`] (read more);
//! encoders return the bytes to write. Every error names a close reason and the status or reply
//! the on-ramp answers with, so the async edge maps errors in one place. [`server`] is that
//! async edge: it drives the codecs over TCP (and HTTP/3 over QUIC, with the codecs of
//! `egress-masque`) and calls back into the gateway through the [`server::Gateway`] trait.

mod host;
mod parsed;

pub mod http_head;
pub mod pac;
pub mod server;
pub mod socks5;

#[cfg(feature = "bytes")]
pub mod buf;

pub use host::{Host, HostError};
pub use parsed::Parsed;
