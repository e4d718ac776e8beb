use std::borrow::Cow;

use base64::Engine as _;

use super::body::trim_ows;
use super::chunked::is_tchar;
use super::{HeadError, RequestHead, RequestTarget, Version};

/// Headers that describe one hop and never travel past the proxy (RFC 9110 §7.6.1).
/// Transfer-Encoding is hop-by-hop too, but stays: the relay forwards the body as received.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Headers a client cannot strip by naming them in `Connection`: removing them would change how
/// the origin frames or routes the request.
const NOT_CONNECTION_OPTIONS: &[&str] = &["host", "content-length", "transfer-encoding"];

/// The Basic credentials in `Proxy-Authorization`: `None` without that header, an error when
/// it is repeated, not Basic, or not valid base64 of UTF-8 `user:password`.
pub fn proxy_authorization_basic(
    head: &RequestHead,
) -> Option<Result<(String, String), HeadError>> {
    let mut values = head.header_values("proxy-authorization");
    let value = values.next()?;
    if values.next().is_some() {
        return Some(Err(HeadError::BadCredentials(
            "more than one header".into(),
        )));
    }
    Some(basic_credentials(value))
}

/// The user and password of one `Proxy-Authorization: Basic` value (HTTP/1.1 or HTTP/3).
pub fn basic_credentials(value: &[u8]) -> Result<(String, String), HeadError> {
    let bad = |detail: &str| HeadError::BadCredentials(detail.to_owned());
    let value = trim_ows(value);
    let split = value
        .iter()
        .position(|&b| b == b' ')
        .ok_or_else(|| bad("no credentials"))?;
    let (scheme, token) = value.split_at(split);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return Err(bad("scheme is not Basic"));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(trim_ows(token))
        .map_err(|_| bad("credentials are not base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| bad("credentials are not UTF-8"))?;
    let (user, password) = text
        .split_once(':')
        .ok_or_else(|| bad("no ':' in credentials"))?;
    Ok((user.to_owned(), password.to_owned()))
}

/// Whether the client wants the connection kept open after this exchange.
pub fn is_keep_alive(head: &RequestHead) -> bool {
    let mut options = connection_options(head);
    // Old clients talk to proxies through the non-standard Proxy-Connection.
    options.extend(tokens(head.header_values("proxy-connection")));
    if options.iter().any(|o| o == "close") {
        return false;
    }
    match head.version {
        Version::Http11 => true,
        Version::Http10 => options.iter().any(|o| o == "keep-alive"),
    }
}

/// One header field to send the origin: borrowed from the client's head where it is passed on
/// unchanged, owned where the proxy writes it (`Host`, `Via`).
pub type ForwardedField<'a> = (Cow<'a, str>, Cow<'a, [u8]>);

/// The headers to send the origin: hop-by-hop headers and those named in `Connection` removed,
/// `Host` set from the request target (RFC 9112 §3.2.2), and `Via: <version> <via>` appended.
/// Fields passed on unchanged are borrowed: a forwarded request copies its headers once, into
/// the bytes [`serialize_origin_request`] writes.
pub fn forwarded_headers<'a>(head: &'a RequestHead, via: &str) -> Vec<ForwardedField<'a>> {
    let named = connection_options(head);
    let mut host = Some(head.target.host_header().into_bytes());
    let mut out: Vec<ForwardedField<'a>> = Vec::with_capacity(head.headers.len() + 2);
    for (name, value) in &head.headers {
        let is = |list: &[&str]| list.iter().any(|h| name.eq_ignore_ascii_case(h));
        let named_here = !is(NOT_CONNECTION_OPTIONS)
            && named.iter().any(|option| name.eq_ignore_ascii_case(option));
        if is(HOP_BY_HOP) || named_here {
            continue;
        }
        if name.eq_ignore_ascii_case("host") {
            // The first Host names the target; later ones are dropped.
            if let Some(host) = host.take() {
                out.push((Cow::Borrowed(name.as_str()), Cow::Owned(host)));
            }
            continue;
        }
        out.push((
            Cow::Borrowed(name.as_str()),
            Cow::Borrowed(value.as_slice()),
        ));
    }
    if let Some(host) = host {
        out.insert(0, (Cow::Borrowed("Host"), Cow::Owned(host)));
    }
    let mut via_entry = format!("{} {}", head.version.number(), via).into_bytes();
    via_entry.iter_mut().for_each(|b| *b = scrub_byte(*b));
    out.push((Cow::Borrowed("Via"), Cow::Owned(via_entry)));
    out
}

/// The request line and `headers` for the upstream, in origin-form (`GET /path HTTP/1.1`); a
/// CONNECT keeps its authority-form. The client's HTTP version is kept so the response framing
/// the origin picks is one the client understands. Header names that are not tokens are skipped
/// and CR, LF and NUL in values become spaces, so no header can be injected.
pub fn serialize_origin_request(head: &RequestHead, headers: &[ForwardedField<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(head.method.as_bytes());
    out.push(b' ');
    match &head.target {
        RequestTarget::Absolute { path_and_query, .. } => {
            out.extend_from_slice(path_and_query.as_bytes())
        }
        authority @ RequestTarget::Authority { .. } => {
            out.extend_from_slice(authority.to_string().as_bytes())
        }
    }
    out.push(b' ');
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if name.is_empty() || !name.bytes().all(is_tchar) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend(value.iter().copied().map(scrub_byte));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Lowercased options listed in every `Connection` header.
fn connection_options(head: &RequestHead) -> Vec<String> {
    tokens(head.header_values("connection")).collect()
}

fn tokens<'a>(values: impl Iterator<Item = &'a [u8]> + 'a) -> impl Iterator<Item = String> + 'a {
    values
        .flat_map(|value| value.split(|&b| b == b','))
        .map(trim_ows)
        .filter(|token| !token.is_empty())
        .map(|token| String::from_utf8_lossy(token).to_ascii_lowercase())
}

pub(crate) fn scrub_value(value: &[u8]) -> Vec<u8> {
    value.iter().copied().map(scrub_byte).collect()
}

/// A byte of a header value as written: CR, LF and NUL become spaces, so no line can be added.
fn scrub_byte(b: u8) -> u8 {
    if matches!(b, b'\r' | b'\n' | 0) {
        b' '
    } else {
        b
    }
}
