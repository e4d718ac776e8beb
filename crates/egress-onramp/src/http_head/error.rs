use crate::HostError;

/// Why a request (or upstream response) head or body framing was refused.
///
/// [`HeadError::status`] and [`HeadError::reason`] describe the answer to a *client*; when the
/// error comes from parsing an upstream response, the proxy answers 502 instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("head is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("head has more than {limit} header fields")]
    TooManyHeaders { limit: usize },
    #[error("malformed head: {0}")]
    Malformed(String),
    #[error("unsupported HTTP version (only HTTP/1.0 and HTTP/1.1 are spoken)")]
    UnsupportedVersion,
    #[error("method {method} cannot be used with request target {target:?}")]
    UnsupportedMethodForTarget { method: String, target: String },
    #[error("request target {0:?} is origin-form; a proxy needs absolute-form or CONNECT")]
    OriginFormNotAllowed(String),
    #[error("bad host {host:?}: {problem}")]
    BadHost { host: String, problem: HostError },
    #[error("bad port {0:?}: expected a decimal number from 1 to 65535")]
    BadPort(String),
    #[error("request target carries userinfo (user@host), which is refused")]
    UserinfoInTarget,
    #[error("unsupported URI scheme {0:?}: only http is proxied in absolute-form")]
    UnsupportedScheme(String),
    #[error("bad Proxy-Authorization: {0}")]
    BadCredentials(String),
    #[error("bad Content-Length: {0}")]
    BadContentLength(String),
    #[error("both Transfer-Encoding and Content-Length are present")]
    ConflictingFraming,
    #[error("unsupported Transfer-Encoding {0:?}: only chunked is accepted")]
    UnsupportedTransferEncoding(String),
    #[error("bad chunked body: {0}")]
    BadChunk(&'static str),
}

impl HeadError {
    /// The HTTP status the proxy answers the client with.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::TooLarge { .. } | HeadError::TooManyHeaders { .. } => 431,
            HeadError::UnsupportedVersion => 505,
            HeadError::UnsupportedScheme(_) | HeadError::UnsupportedTransferEncoding(_) => 501,
            HeadError::Malformed(_)
            | HeadError::UnsupportedMethodForTarget { .. }
            | HeadError::OriginFormNotAllowed(_)
            | HeadError::BadHost { .. }
            | HeadError::BadPort(_)
            | HeadError::UserinfoInTarget
            | HeadError::BadCredentials(_)
            | HeadError::BadContentLength(_)
            | HeadError::ConflictingFraming
            | HeadError::BadChunk(_) => 400,
        }
    }

    /// A stable snake_case close reason for the connection log.
    pub fn reason(&self) -> &'static str {
        match self {
            HeadError::TooLarge { .. } => "request_head_too_large",
            HeadError::TooManyHeaders { .. } => "too_many_headers",
            HeadError::Malformed(_) => "malformed_request",
            HeadError::UnsupportedVersion => "unsupported_http_version",
            HeadError::UnsupportedMethodForTarget { .. } => "method_target_mismatch",
            HeadError::OriginFormNotAllowed(_) => "origin_form_not_allowed",
            HeadError::BadHost { .. } => "bad_host",
            HeadError::BadPort(_) => "bad_port",
            HeadError::UserinfoInTarget => "userinfo_in_target",
            HeadError::UnsupportedScheme(_) => "unsupported_scheme",
            HeadError::BadCredentials(_) => "bad_proxy_authorization",
            HeadError::BadContentLength(_) => "bad_content_length",
            HeadError::ConflictingFraming => "conflicting_body_framing",
            HeadError::UnsupportedTransferEncoding(_) => "unsupported_transfer_encoding",
            HeadError::BadChunk(_) => "bad_chunked_body",
        }
    }
}

/// Longest piece of client input copied into an error message.
const EXCERPT_LEN: usize = 256;

/// A prefix of untrusted input, short enough to log.
pub(crate) fn excerpt(text: &str) -> String {
    if text.len() <= EXCERPT_LEN {
        return text.to_owned();
    }
    let mut end = EXCERPT_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Like [`excerpt`] for raw header bytes.
pub(crate) fn excerpt_bytes(raw: &[u8]) -> String {
    excerpt(&String::from_utf8_lossy(
        &raw[..raw.len().min(EXCERPT_LEN + 1)],
    ))
}
