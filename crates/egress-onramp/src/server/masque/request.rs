//! Which HTTP/3 requests the MASQUE on-ramp serves, and how it answers the others: pure
//! functions over the request's method, `:protocol` and path, so every refusal is testable
//! without a connection.

use egress_masque::{parse_target_path, TargetPathError, CONNECT_UDP_PROTOCOL};
use egress_model::{TargetAddr, TargetHost};
use http::{HeaderMap, Method};

use crate::http_head::basic_credentials;
use crate::server::gateway::OpenError;
use crate::server::OpenFailure;
use crate::Host;

/// A request answered with an error: the status, the close reason logged and sent, and the
/// Proxy-Status error type (RFC 9209 §2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub close_reason: &'static str,
    pub proxy_error: &'static str,
}

impl Refusal {
    fn bad_request(status: u16, close_reason: &'static str) -> Self {
        Refusal {
            status,
            close_reason,
            proxy_error: "http_request_error",
        }
    }

    /// The answer to a refused open (the gateway has logged it).
    pub(crate) fn of_open(error: &OpenError) -> Self {
        Refusal {
            status: error.http_status(),
            close_reason: error.close_reason,
            proxy_error: proxy_status_error(error.failure),
        }
    }
}

/// The target of a CONNECT-UDP request: `CONNECT` with `:protocol connect-udp` and the
/// default URI template's path (RFC 9298 §3). Anything else is refused with a 4xx or 501.
pub(crate) fn connect_udp_target(
    method: &Method,
    protocol: Option<&str>,
    path_and_query: &str,
) -> Result<TargetAddr, Refusal> {
    if method != Method::CONNECT {
        return Err(Refusal::bad_request(405, "method_not_allowed"));
    }
    match protocol {
        Some(CONNECT_UDP_PROTOCOL) => {}
        // A classic CONNECT (a TCP tunnel) or another extended CONNECT (WebTransport).
        _ => return Err(Refusal::bad_request(501, "protocol_not_supported")),
    }
    let (host, port) = parse_target_path(path_and_query).map_err(|e| match e {
        TargetPathError::NotConnectUdp(_) => Refusal::bad_request(404, "not_a_connect_udp_path"),
        TargetPathError::BadEncoding(_) | TargetPathError::BadPort(_) => {
            Refusal::bad_request(400, "bad_target")
        }
    })?;
    let host = match Host::parse_bare(host.as_bytes()) {
        Ok(Host::Ip(ip)) => TargetHost::Ip(ip),
        Ok(Host::Name(name)) => TargetHost::Name(name),
        Err(_) => return Err(Refusal::bad_request(400, "bad_target")),
    };
    Ok(TargetAddr { host, port })
}

/// The Basic credentials of the request: `None` without `Proxy-Authorization`, a refusal
/// when it is repeated or not valid Basic credentials.
pub(crate) fn credentials(headers: &HeaderMap) -> Option<Result<(String, String), Refusal>> {
    let mut values = headers.get_all("proxy-authorization").into_iter();
    let value = values.next()?;
    let bad = || Refusal::bad_request(400, "bad_proxy_authorization");
    if values.next().is_some() {
        return Some(Err(bad()));
    }
    Some(basic_credentials(value.as_bytes()).map_err(|_| bad()))
}

/// The Proxy-Status error type (RFC 9209 §2.3) closest to why an open failed.
fn proxy_status_error(failure: OpenFailure) -> &'static str {
    match failure {
        OpenFailure::NotAllowed | OpenFailure::TooManySessions => "http_request_denied",
        OpenFailure::NameNotResolved => "dns_error",
        OpenFailure::Refused => "connection_refused",
        OpenFailure::Unreachable => "destination_ip_unroutable",
        OpenFailure::Timeout => "connection_timeout",
        OpenFailure::PortsExhausted | OpenFailure::Internal => "proxy_internal_error",
    }
}

/// A Proxy-Status header value (RFC 9209): the proxy's name, the error type and the close
/// reason as `details`.
pub(crate) fn proxy_status(proxy: &str, refusal: &Refusal) -> String {
    format!(
        "{}; error={}; details={}",
        sf_token_or_string(proxy),
        refusal.proxy_error,
        sf_string(refusal.close_reason)
    )
}

/// `name` as a structured-field token when it is one (RFC 8941 §3.3.4), else as a string.
fn sf_token_or_string(name: &str) -> String {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '*');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:/".contains(c));
    if first_ok && rest_ok {
        name.to_owned()
    } else {
        sf_string(name)
    }
}

/// A structured-field string (RFC 8941 §3.3.3): printable ASCII, `"` and `\` escaped; other
/// characters become `?` (the names here are ASCII already).
fn sf_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/.well-known/masque/udp/192.0.2.6/443/";

    #[test]
    fn a_connect_udp_request_names_its_target() {
        let target = connect_udp_target(&Method::CONNECT, Some("connect-udp"), PATH);
        let parsed = |text: &str| Ok(TargetAddr::parse(text).expect("valid"));
        assert_eq!(target, parsed("192.0.2.6:443"));
        let v6 = connect_udp_target(
            &Method::CONNECT,
            Some("connect-udp"),
            "/.well-known/masque/udp/2001%3Adb8%3A%3A42/4433/?x=1",
        );
        assert_eq!(v6, parsed("[2001:db8::42]:4433"));
        let name = connect_udp_target(
            &Method::CONNECT,
            Some("connect-udp"),
            "/.well-known/masque/udp/Origin.Example/443/",
        );
        assert_eq!(name, parsed("origin.example:443"));
    }

    #[test]
    fn other_requests_get_a_clear_status() {
        let status = |method: Method, protocol: Option<&str>, path: &str| {
            connect_udp_target(&method, protocol, path).map_err(|r| (r.status, r.close_reason))
        };
        assert_eq!(
            status(Method::GET, None, PATH),
            Err((405, "method_not_allowed"))
        );
        assert_eq!(
            status(Method::CONNECT, None, PATH),
            Err((501, "protocol_not_supported"))
        );
        assert_eq!(
            status(Method::CONNECT, Some("webtransport"), PATH),
            Err((501, "protocol_not_supported"))
        );
        assert_eq!(
            status(Method::CONNECT, Some("connect-udp"), "/index.html"),
            Err((404, "not_a_connect_udp_path"))
        );
        for path in [
            "/.well-known/masque/udp/192.0.2.6/0/",
            "/.well-known/masque/udp/a%zz/443/",
            "/.well-known/masque/udp/bad%20host/443/",
            "/.well-known/masque/udp/%5B2001%3Adb8%3A%3A1/443/",
        ] {
            assert_eq!(
                status(Method::CONNECT, Some("connect-udp"), path),
                Err((400, "bad_target")),
                "{path}"
            );
        }
    }

    #[test]
    fn credentials_are_basic_and_given_once() {
        let mut headers = HeaderMap::new();
        assert_eq!(credentials(&headers), None);
        headers.insert(
            "proxy-authorization",
            http::HeaderValue::from_static("Basic dTpw"),
        );
        assert_eq!(credentials(&headers), Some(Ok(("u".into(), "p".into()))));
        headers.append(
            "proxy-authorization",
            http::HeaderValue::from_static("Basic dTpw"),
        );
        assert_eq!(
            credentials(&headers).map(|r| r.map_err(|e| e.close_reason)),
            Some(Err("bad_proxy_authorization"))
        );
        let mut bearer = HeaderMap::new();
        bearer.insert(
            "proxy-authorization",
            http::HeaderValue::from_static("Bearer abc"),
        );
        assert!(matches!(credentials(&bearer), Some(Err(_))));
    }

    #[test]
    fn proxy_status_carries_the_error_type_and_the_close_reason() {
        let refusal = Refusal::of_open(&OpenError {
            failure: OpenFailure::NotAllowed,
            close_reason: "udp_disabled",
            message: "UDP is off".into(),
        });
        assert_eq!(refusal.status, 403);
        assert_eq!(
            proxy_status("egressd-lab-1", &refusal),
            "egressd-lab-1; error=http_request_denied; details=\"udp_disabled\""
        );
        assert_eq!(
            proxy_status("1 node \"x\"", &refusal),
            "\"1 node \\\"x\\\"\"; error=http_request_denied; details=\"udp_disabled\""
        );
    }
}
