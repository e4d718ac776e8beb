use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest DNS name accepted, without the trailing dot (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 253;
/// Longest label of a DNS name.
const MAX_LABEL_LEN: usize = 63;

/// A destination host as a client named it: an IP literal or a validated, lowercased DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 literal, or an IPv6 literal (written in brackets in HTTP).
    Ip(IpAddr),
    /// A DNS name: lowercase, ASCII `[a-z0-9-_]` labels, no trailing dot.
    Name(String),
}

/// Why a host was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("host is empty")]
    Empty,
    #[error("host name is longer than {MAX_NAME_LEN} bytes")]
    TooLong,
    #[error("host name has an empty label")]
    EmptyLabel,
    #[error("host name has a label longer than {MAX_LABEL_LEN} bytes")]
    LabelTooLong,
    #[error("host name contains byte {0:#04x}; only a-z, 0-9, '-', '_' and '.' are allowed")]
    BadByte(u8),
    #[error("host name ends in a numeric label, which resolvers may read as an IPv4 address")]
    NumericLastLabel,
    #[error("bracketed IPv6 literal is invalid")]
    BadIpv6Literal,
}

impl Host {
    /// Parses the host part of an HTTP authority: `[v6]`, dotted IPv4, or a DNS name.
    pub fn parse(s: &str) -> Result<Host, HostError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(HostError::BadIpv6Literal)?;
            let v6: Ipv6Addr = inner.parse().map_err(|_| HostError::BadIpv6Literal)?;
            return Ok(Host::Ip(IpAddr::V6(v6)));
        }
        if let Ok(v4) = s.parse::<Ipv4Addr>() {
            return Ok(Host::Ip(IpAddr::V4(v4)));
        }
        normalize_name(s.as_bytes()).map(Host::Name)
    }

    /// Parses a host given as raw bytes without brackets (SOCKS5 domain field): an IPv4 or
    /// IPv6 literal, or a DNS name.
    pub fn parse_bare(raw: &[u8]) -> Result<Host, HostError> {
        if let Ok(text) = std::str::from_utf8(raw) {
            if let Ok(ip) = text.parse::<IpAddr>() {
                return Ok(Host::Ip(ip));
            }
            if text.starts_with('[') {
                return Host::parse(text);
            }
        }
        normalize_name(raw).map(Host::Name)
    }
}

impl fmt::Display for Host {
    /// Writes the host as it appears in an authority (IPv6 in brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            Host::Ip(IpAddr::V4(v4)) => write!(f, "{v4}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// Validates a DNS name and returns it lowercased without a trailing dot.
fn normalize_name(raw: &[u8]) -> Result<String, HostError> {
    let name = raw.strip_suffix(b".").unwrap_or(raw);
    if name.is_empty() {
        return Err(HostError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(HostError::TooLong);
    }
    let mut last = &name[..0];
    for label in name.split(|&b| b == b'.') {
        if label.is_empty() {
            return Err(HostError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(HostError::LabelTooLong);
        }
        if let Some(&bad) = label.iter().find(|b| !is_name_byte(**b)) {
            return Err(HostError::BadByte(bad));
        }
        last = label;
    }
    // getaddrinfo reads "127.1" or "0x7f.1" as IPv4; refusing them keeps IP filters honest.
    if looks_numeric(last) {
        return Err(HostError::NumericLastLabel);
    }
    let lower = name.to_ascii_lowercase();
    Ok(String::from_utf8(lower).expect("only ASCII bytes pass is_name_byte"))
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn looks_numeric(label: &[u8]) -> bool {
    if label.iter().all(u8::is_ascii_digit) {
        return true;
    }
    match label {
        [b'0', b'x' | b'X', rest @ ..] => rest.iter().all(u8::is_ascii_hexdigit),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
