//! The async on-ramp servers: HTTP proxy and SOCKS5, on top of the sans-I/O codecs.

mod gateway;
mod http;
mod io;
mod socks;

use std::time::Duration;

pub use gateway::{
    AuthError, Authorized, BoxFuture, Gateway, Listener, OnRamp, OpenError, OpenFailure,
    OpenRequest, Opened, Session,
};
pub use http::handle_http;
pub use socks::handle_socks5;

use crate::http_head::HeadLimits;

/// Limits and timeouts of the on-ramps.
#[derive(Debug, Clone)]
pub struct OnRampSettings {
    /// Time allowed for a whole request head (or SOCKS handshake).
    pub head_timeout: Duration,
    /// A tunnel with no byte either way for this long is closed.
    pub idle_timeout: Duration,
    /// `Via` pseudonym.
    pub via: String,
    /// Head size limits.
    pub head_limits: HeadLimits,
}

impl Default for OnRampSettings {
    fn default() -> Self {
        OnRampSettings {
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            via: "egressd".into(),
            head_limits: HeadLimits::default(),
        }
    }
}
