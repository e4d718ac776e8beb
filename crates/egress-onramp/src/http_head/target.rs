use std::fmt;

use super::error::excerpt;
use super::HeadError;
use crate::Host;

/// Port an absolute-form `http://` target uses when it names none.
const HTTP_DEFAULT_PORT: u16 = 80;

/// Where a proxy request asks to go. Origin-form (`GET /path`) is refused, so it has no variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RequestTarget {
    /// `CONNECT host:port`: open a tunnel.
    Authority { host: Host, port: u16 },
    /// `GET http://host[:port]/path?query`: forward the request. Only the `http` scheme is
    /// accepted; `path_and_query` always starts with `/`.
    Absolute {
        host: Host,
        port: u16,
        path_and_query: String,
    },
}

impl RequestTarget {
    /// The destination host.
    pub fn host(&self) -> &Host {
        match self {
            RequestTarget::Authority { host, .. } | RequestTarget::Absolute { host, .. } => host,
        }
    }

    /// The destination port.
    pub fn port(&self) -> u16 {
        match self {
            RequestTarget::Authority { port, .. } | RequestTarget::Absolute { port, .. } => *port,
        }
    }

    /// The value of the `Host` header sent upstream (port omitted when it is the default).
    pub fn host_header(&self) -> String {
        match self {
            RequestTarget::Absolute { host, port, .. } if *port == HTTP_DEFAULT_PORT => {
                host.to_string()
            }
            _ => format!("{}:{}", self.host(), self.port()),
        }
    }
}

impl fmt::Display for RequestTarget {
    /// Writes the target as it appears in a request line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestTarget::Authority { host, port } => write!(f, "{host}:{port}"),
            RequestTarget::Absolute {
                host,
                port,
                path_and_query,
            } => {
                write!(f, "http://{host}:{port}{path_and_query}")
            }
        }
    }
}

/// Classifies the request-target of a proxy request (RFC 9112 §3.2).
pub(crate) fn classify(method: &str, target: &str) -> Result<RequestTarget, HeadError> {
    let mismatch = || HeadError::UnsupportedMethodForTarget {
        method: excerpt(method),
        target: excerpt(target),
    };
    if target.starts_with('/') || target == "*" {
        return Err(HeadError::OriginFormNotAllowed(excerpt(target)));
    }
    if target.contains('#') {
        return Err(HeadError::Malformed(
            "request target contains a fragment".into(),
        ));
    }
    if method == "CONNECT" {
        if target.contains("://") {
            return Err(mismatch());
        }
        let (host, port) = parse_authority(target, None)?;
        return Ok(RequestTarget::Authority { host, port });
    }
    let Some((scheme, rest)) = target.split_once("://") else {
        // Looks like authority-form on a method other than CONNECT?
        return match parse_authority(target, None) {
            Ok(_) => Err(mismatch()),
            Err(_) => Err(HeadError::Malformed(format!(
                "request target {:?} is neither absolute-form nor authority-form",
                excerpt(target)
            ))),
        };
    };
    if !is_scheme(scheme) {
        return Err(HeadError::Malformed(format!(
            "bad URI scheme {:?}",
            excerpt(scheme)
        )));
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(HeadError::UnsupportedScheme(excerpt(
            &scheme.to_ascii_lowercase(),
        )));
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(split);
    let (host, port) = parse_authority(authority, Some(HTTP_DEFAULT_PORT))?;
    let path_and_query = match path_and_query.as_bytes().first() {
        None => "/".to_owned(),
        Some(b'?') => format!("/{path_and_query}"),
        Some(_) => path_and_query.to_owned(),
    };
    Ok(RequestTarget::Absolute {
        host,
        port,
        path_and_query,
    })
}

/// Parses `host[:port]`; the port is required when `default_port` is `None`.
fn parse_authority(authority: &str, default_port: Option<u16>) -> Result<(Host, u16), HeadError> {
    if authority.contains('@') {
        return Err(HeadError::UserinfoInTarget);
    }
    // The port separator is the last ':' outside an IPv6 literal's brackets.
    let host_end = match authority.rfind(']') {
        Some(close) if authority.starts_with('[') => close + 1,
        _ => authority.rfind(':').unwrap_or(authority.len()),
    };
    let (host_text, port_text) = authority.split_at(host_end);
    let port = match (port_text.strip_prefix(':'), default_port) {
        (Some(port), _) => parse_port(port)?,
        (None, Some(default)) if port_text.is_empty() => default,
        (None, _) if port_text.is_empty() => return Err(HeadError::BadPort(String::new())),
        (None, _) => {
            return Err(HeadError::BadHost {
                host: excerpt(authority),
                problem: crate::HostError::BadIpv6Literal,
            })
        }
    };
    let host = Host::parse(host_text).map_err(|problem| HeadError::BadHost {
        host: excerpt(host_text),
        problem,
    })?;
    Ok((host, port))
}

fn parse_port(text: &str) -> Result<u16, HeadError> {
    let bad = || HeadError::BadPort(excerpt(text));
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(port) => Ok(port),
    }
}

/// RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}
