use super::forward::scrub_value;

/// The answer to a successful CONNECT; the tunnel starts after it.
pub fn connect_established() -> &'static [u8] {
    b"HTTP/1.1 200 Connection established\r\n\r\n"
}

/// A small plain-text response the proxy writes itself before closing the connection; the body
/// is `reason` on one line. `extra_headers` carries e.g. `Proxy-Authenticate` on a 407.
pub fn error_response(status: u16, reason: &str, extra_headers: &[(&str, &str)]) -> Vec<u8> {
    let body = format!("{reason}\n");
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
        status_text(status),
        body.len()
    )
    .into_bytes();
    for (name, value) in extra_headers {
        out.extend_from_slice(&scrub_value(name.as_bytes()));
        out.extend_from_slice(b": ");
        out.extend_from_slice(&scrub_value(value.as_bytes()));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

/// The reason phrase of the statuses a proxy answers with itself.
fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}
