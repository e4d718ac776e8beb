use super::body::{request_body_length, BodyLength};
use super::error::excerpt;
use super::target::{classify, RequestTarget};
use super::{HeadError, Version};
use crate::Parsed;

/// Default for [`HeadLimits::max_head_bytes`].
pub const DEFAULT_MAX_HEAD_BYTES: usize = 16 * 1024;
/// Default for [`HeadLimits::max_headers`].
pub const DEFAULT_MAX_HEADERS: usize = 100;

/// Bounds on a head, so a client cannot make the proxy buffer without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Largest head, start line and final empty line included.
    pub max_head_bytes: usize,
    /// Most header fields.
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
        }
    }
}

/// A parsed proxy request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method token, case preserved (methods are case-sensitive).
    pub method: String,
    /// Where the client asks to go.
    pub target: RequestTarget,
    pub version: Version,
    /// Header fields in arrival order, names as the client spelled them.
    pub headers: Vec<(String, Vec<u8>)>,
    /// How the request body is framed.
    pub body: BodyLength,
}

impl RequestHead {
    /// Whether this is a `CONNECT` (tunnel) request.
    pub fn is_connect(&self) -> bool {
        matches!(self.target, RequestTarget::Authority { .. })
    }

    /// The values of every header named `name` (case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        header_values(&self.headers, name)
    }
}

pub(crate) fn header_values<'a>(
    headers: &'a [(String, Vec<u8>)],
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Parses a proxy request head from the start of `buf`.
///
/// Returns [`Parsed::Partial`] until the empty line ending the head has arrived, and
/// [`HeadError::TooLarge`] once `buf` holds `max_head_bytes` without one.
pub fn parse_request_head(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Parsed<RequestHead>, HeadError> {
    let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let mut heap = Vec::new();
    let mut req = httparse::Request::new(header_slots(&mut stack, &mut heap, limits));
    let window = &buf[..buf.len().min(limits.max_head_bytes)];
    let Some(consumed) = head_end(req.parse(window), buf.len(), limits)? else {
        return Ok(Parsed::Partial);
    };
    let incomplete = || HeadError::Malformed("incomplete request line".into());
    let method = req.method.ok_or_else(incomplete)?;
    let path = req.path.ok_or_else(incomplete)?;
    let version = Version::from_minor(req.version.ok_or_else(incomplete)?)?;
    let headers = collect_headers(req.headers);
    if header_values(&headers, "host").nth(1).is_some() {
        return Err(HeadError::Malformed("more than one Host header".into()));
    }
    let head = RequestHead {
        target: classify(method, path)?,
        method: method.to_owned(),
        version,
        body: request_body_length(version, &headers)?,
        headers,
    };
    Ok(Parsed::Complete { head, consumed })
}

pub(crate) fn collect_headers(parsed: &[httparse::Header<'_>]) -> Vec<(String, Vec<u8>)> {
    parsed
        .iter()
        .map(|h| (h.name.to_owned(), h.value.to_vec()))
        .collect()
}

/// Header slots kept on the stack for the usual limit, so parsing a head allocates no slots.
pub(crate) const STACK_HEADERS: usize = 100;

/// The slots httparse fills: the stack array when the limit fits in it, else a heap vector.
pub(crate) fn header_slots<'a, 'h>(
    stack: &'a mut [httparse::Header<'h>; STACK_HEADERS],
    heap: &'a mut Vec<httparse::Header<'h>>,
    limits: &HeadLimits,
) -> &'a mut [httparse::Header<'h>] {
    if limits.max_headers <= STACK_HEADERS {
        &mut stack[..limits.max_headers]
    } else {
        heap.resize(limits.max_headers, httparse::EMPTY_HEADER);
        heap.as_mut_slice()
    }
}

/// Where a head ends (`None`: not yet), or why it never will.
pub(crate) fn head_end(
    status: Result<httparse::Status<usize>, httparse::Error>,
    received: usize,
    limits: &HeadLimits,
) -> Result<Option<usize>, HeadError> {
    match status {
        Ok(httparse::Status::Complete(consumed)) => Ok(Some(consumed)),
        Ok(httparse::Status::Partial) if received >= limits.max_head_bytes => {
            Err(HeadError::TooLarge {
                limit: limits.max_head_bytes,
            })
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(map_httparse_error(e, limits)),
    }
}

pub(crate) fn map_httparse_error(error: httparse::Error, limits: &HeadLimits) -> HeadError {
    match error {
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders {
            limit: limits.max_headers,
        },
        httparse::Error::Version => HeadError::UnsupportedVersion,
        other => HeadError::Malformed(excerpt(&other.to_string())),
    }
}
