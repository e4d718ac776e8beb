use super::body::{response_body_length, BodyLength};
use super::request::{collect_headers, head_end, header_slots, STACK_HEADERS};
use super::{HeadError, HeadLimits, Version};
use crate::Parsed;

/// A parsed upstream response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub version: Version,
    pub status: u16,
    /// The reason phrase, lossily decoded.
    pub reason: String,
    /// Header fields in arrival order, names as the origin spelled them.
    pub headers: Vec<(String, Vec<u8>)>,
    /// How the response body is framed.
    pub body: BodyLength,
}

impl ResponseHead {
    /// A 1xx response other than 101: the final response head follows it.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// Parses an upstream response head from the start of `buf`. `request_method` is the method of
/// the request it answers: HEAD responses carry no body, nor do 2xx answers to CONNECT.
pub fn parse_response_head(
    buf: &[u8],
    request_method: &str,
    limits: &HeadLimits,
) -> Result<Parsed<ResponseHead>, HeadError> {
    let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let mut heap = Vec::new();
    let mut resp = httparse::Response::new(header_slots(&mut stack, &mut heap, limits));
    let window = &buf[..buf.len().min(limits.max_head_bytes)];
    let Some(consumed) = head_end(resp.parse(window), buf.len(), limits)? else {
        return Ok(Parsed::Partial);
    };
    let incomplete = || HeadError::Malformed("incomplete status line".into());
    let version = Version::from_minor(resp.version.ok_or_else(incomplete)?)?;
    let status = resp.code.ok_or_else(incomplete)?;
    if !(100..600).contains(&status) {
        return Err(HeadError::Malformed(format!(
            "status {status} is out of range"
        )));
    }
    let reason = resp.reason.unwrap_or_default().to_owned();
    let headers = collect_headers(resp.headers);
    let body = response_body_length(request_method, status, version, &headers)?;
    let head = ResponseHead {
        version,
        status,
        reason,
        headers,
        body,
    };
    Ok(Parsed::Complete { head, consumed })
}
