use super::error::{excerpt, excerpt_bytes};
use super::request::header_values;
use super::{HeadError, Version};

/// How the body after a head is delimited (RFC 9112 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyLength {
    /// No body follows.
    None,
    /// Exactly this many bytes follow.
    ContentLength(u64),
    /// A chunked body follows: run it through a [`super::ChunkedDecoder`] to find its end.
    Chunked,
    /// The body runs until the sender closes the connection (responses only).
    UntilClose,
}

/// Framing of a request body. Refuses every ambiguity an origin could read differently.
pub(crate) fn request_body_length(
    version: Version,
    headers: &[(String, Vec<u8>)],
) -> Result<BodyLength, HeadError> {
    let content_length = content_length(headers)?;
    let Some(codings) = transfer_codings(headers) else {
        return Ok(content_length.map_or(BodyLength::None, BodyLength::ContentLength));
    };
    reject_ambiguous_transfer_encoding(version, content_length)?;
    if codings.len() == 1 && codings[0] == "chunked" {
        Ok(BodyLength::Chunked)
    } else {
        Err(HeadError::UnsupportedTransferEncoding(excerpt(
            &codings.join(", "),
        )))
    }
}

/// Framing of a response body, given the method of the request it answers.
pub(crate) fn response_body_length(
    request_method: &str,
    status: u16,
    version: Version,
    headers: &[(String, Vec<u8>)],
) -> Result<BodyLength, HeadError> {
    let no_body = request_method == "HEAD"
        || (100..200).contains(&status)
        || status == 204
        || status == 304
        || (request_method == "CONNECT" && (200..300).contains(&status));
    if no_body {
        return Ok(BodyLength::None);
    }
    let content_length = content_length(headers)?;
    let Some(codings) = transfer_codings(headers) else {
        return Ok(content_length.map_or(BodyLength::UntilClose, BodyLength::ContentLength));
    };
    reject_ambiguous_transfer_encoding(version, content_length)?;
    let chunked_count = codings.iter().filter(|c| *c == "chunked").count();
    match (chunked_count, codings.last().map(String::as_str)) {
        (0, _) => Ok(BodyLength::UntilClose),
        (1, Some("chunked")) => Ok(BodyLength::Chunked),
        _ => Err(HeadError::UnsupportedTransferEncoding(excerpt(
            &codings.join(", "),
        ))),
    }
}

/// Both framings at once, or chunking in HTTP/1.0, is how requests are smuggled.
fn reject_ambiguous_transfer_encoding(
    version: Version,
    content_length: Option<u64>,
) -> Result<(), HeadError> {
    if content_length.is_some() {
        return Err(HeadError::ConflictingFraming);
    }
    if version == Version::Http10 {
        return Err(HeadError::Malformed(
            "Transfer-Encoding in an HTTP/1.0 message".into(),
        ));
    }
    Ok(())
}

/// The single Content-Length value, accepting only repeats of the same number (RFC 9110 §8.6).
fn content_length(headers: &[(String, Vec<u8>)]) -> Result<Option<u64>, HeadError> {
    let mut found = None;
    for value in header_values(headers, "content-length") {
        for item in value.split(|&b| b == b',') {
            let item = trim_ows(item);
            let length = parse_decimal(item).ok_or_else(|| {
                HeadError::BadContentLength(format!("{:?} is not a length", excerpt_bytes(value)))
            })?;
            match found {
                Some(previous) if previous != length => {
                    return Err(HeadError::BadContentLength(format!(
                        "differing values {previous} and {length}"
                    )))
                }
                _ => found = Some(length),
            }
        }
    }
    Ok(found)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        let digit = (b as char).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Lowercased transfer codings of every Transfer-Encoding header, or `None` when there is none.
fn transfer_codings(headers: &[(String, Vec<u8>)]) -> Option<Vec<String>> {
    let mut present = false;
    let mut codings = Vec::new();
    for value in header_values(headers, "transfer-encoding") {
        present = true;
        for item in value.split(|&b| b == b',') {
            let item = trim_ows(item);
            // An empty list element is allowed by the list syntax but names no coding.
            if !item.is_empty() {
                codings.push(String::from_utf8_lossy(item).to_ascii_lowercase());
            }
        }
    }
    present.then_some(codings)
}

pub(crate) fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}
