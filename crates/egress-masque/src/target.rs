//! The target of a connect-udp request, carried in its path by the default URI template of
//! RFC 9298 §3: `/.well-known/masque/udp/{target_host}/{target_port}/`, with the host
//! percent-encoded (an IPv6 literal's colons become `%3A`).

use std::fmt::Write;

use egress_model::{TargetAddr, TargetHost};
use thiserror::Error;

/// The `:protocol` of an extended CONNECT that proxies UDP (RFC 9298 §3.4).
pub const CONNECT_UDP_PROTOCOL: &str = "connect-udp";

const PREFIX: &str = "/.well-known/masque/udp/";

/// Why a request path names no UDP target.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetPathError {
    #[error("path `{0}` is not /.well-known/masque/udp/{{target_host}}/{{target_port}}/")]
    NotConnectUdp(String),
    #[error("target host `{0}` is not percent-encoded text")]
    BadEncoding(String),
    #[error("target port `{0}` is not a port number from 1 to 65535")]
    BadPort(String),
}

/// The host (percent-decoded, still to be validated as a name or address) and port of a
/// connect-udp path. A query after the path is ignored.
pub fn parse_target_path(path: &str) -> Result<(String, u16), TargetPathError> {
    let not_ours = || TargetPathError::NotConnectUdp(path.chars().take(200).collect());
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let rest = path.strip_prefix(PREFIX).ok_or_else(not_ours)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = rest.split_once('/').ok_or_else(not_ours)?;
    if host.is_empty() || port.contains('/') {
        return Err(not_ours());
    }
    let port = match port.parse::<u16>() {
        Ok(p) if p != 0 && !port.starts_with('+') => p,
        _ => return Err(TargetPathError::BadPort(port.chars().take(20).collect())),
    };
    let host = percent_decode(host)
        .ok_or_else(|| TargetPathError::BadEncoding(host.chars().take(200).collect()))?;
    Ok((host, port))
}

/// The path a client asks for to reach `target`.
pub fn target_path(target: &TargetAddr) -> String {
    let mut path = String::from(PREFIX);
    match &target.host {
        TargetHost::Ip(ip) => {
            for c in ip.to_string().chars() {
                if c == ':' {
                    path.push_str("%3A");
                } else {
                    path.push(c);
                }
            }
        }
        TargetHost::Name(name) => path.push_str(name),
    }
    write!(path, "/{}/", target.port).expect("writing to a String cannot fail");
    path
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_examples_parse() {
        assert_eq!(
            parse_target_path("/.well-known/masque/udp/192.0.2.6/443/"),
            Ok(("192.0.2.6".into(), 443))
        );
        assert_eq!(
            parse_target_path("/.well-known/masque/udp/2001%3Adb8%3A%3A42/443/"),
            Ok(("2001:db8::42".into(), 443))
        );
        assert_eq!(
            parse_target_path("/.well-known/masque/udp/example.com/53"),
            Ok(("example.com".into(), 53))
        );
    }

    #[test]
    fn paths_that_name_no_target_are_refused() {
        for path in [
            "/",
            "/.well-known/masque/udp/",
            "/.well-known/masque/udp//443/",
            "/.well-known/masque/udp/a/b/443/",
            "/.well-known/masque/ip/a/443/",
        ] {
            assert!(
                matches!(
                    parse_target_path(path),
                    Err(TargetPathError::NotConnectUdp(_))
                ),
                "{path}"
            );
        }
        for port in ["0", "65536", "+1", "x"] {
            let path = format!("/.well-known/masque/udp/a/{port}/");
            assert!(
                matches!(parse_target_path(&path), Err(TargetPathError::BadPort(_))),
                "{path}"
            );
        }
        assert!(matches!(
            parse_target_path("/.well-known/masque/udp/a%zz/1/"),
            Err(TargetPathError::BadEncoding(_))
        ));
    }

    #[test]
    fn a_path_built_for_a_target_parses_back() {
        for (text, host) in [
            ("[2001:db8::42]:443", "2001:db8::42"),
            ("198.51.100.7:4433", "198.51.100.7"),
            ("origin.test:443", "origin.test"),
        ] {
            let target = TargetAddr::parse(text).expect("valid");
            let path = target_path(&target);
            assert_eq!(
                parse_target_path(&path),
                Ok((host.to_string(), target.port))
            );
        }
    }
}
