//! HTTP/1.1 forward-proxy heads: parsing, the checks a proxy owes the origin (hop-by-hop
//! headers, body framing against request smuggling), and the few responses the proxy writes.

mod body;
mod chunked;
mod error;
mod forward;
mod reply;
mod request;
mod response;
mod target;

pub use body::BodyLength;
pub use chunked::{ChunkedDecoder, ChunkedProgress};
pub(crate) use error::excerpt;
pub use error::HeadError;
pub use forward::{
    basic_credentials, forwarded_headers, is_keep_alive, proxy_authorization_basic,
    serialize_origin_request, ForwardedField,
};
pub use reply::{connect_established, error_response};
pub use request::{
    parse_request_head, HeadLimits, RequestHead, DEFAULT_MAX_HEADERS, DEFAULT_MAX_HEAD_BYTES,
};
pub use response::{parse_response_head, ResponseHead};
pub use target::RequestTarget;

/// The HTTP/1.x version of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    /// `"HTTP/1.0"` or `"HTTP/1.1"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }

    /// The version number as written in a `Via` entry (`"1.0"`, `"1.1"`).
    pub fn number(self) -> &'static str {
        match self {
            Version::Http10 => "1.0",
            Version::Http11 => "1.1",
        }
    }

    fn from_minor(minor: u8) -> Result<Version, HeadError> {
        match minor {
            0 => Ok(Version::Http10),
            1 => Ok(Version::Http11),
            _ => Err(HeadError::UnsupportedVersion),
        }
    }
}

#[cfg(test)]
mod tests;
