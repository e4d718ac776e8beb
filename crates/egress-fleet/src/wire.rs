//! What travels between nodes: the plan of a forwarded connection in request headers, and the
//! outcome in response headers. A forwarded TCP connection's stream carries its bytes; a
//! forwarded UDP flow's stream carries capsules (RFC 9297), one DATAGRAM capsule per UDP
//! payload with context ID 0 (RFC 9298 §5).

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, HeaderValue};

/// Extended CONNECT protocol (`:protocol`) of a forwarded TCP connection.
pub const TCP_PROTOCOL: &str = "egressd-tcp";
/// Path of forwarded TCP connections.
pub const TCP_PATH: &str = "/fleet/v1/tcp";
/// Extended CONNECT protocol of a forwarded UDP flow (RFC 9298 §3.4).
pub const UDP_PROTOCOL: &str = egress_masque::CONNECT_UDP_PROTOCOL;
/// Path of forwarded UDP flows (the target is in `egress-destination`, as for TCP).
pub const UDP_PATH: &str = "/fleet/v1/udp";
/// Path of health probes.
pub const HEALTH_PATH: &str = "/fleet/v1/health";

/// Request header: the source address to dial from.
pub const H_SOURCE: &str = "egress-source";
/// Request header: the destination address and port.
pub const H_DESTINATION: &str = "egress-destination";
/// Request header: the per-destination connection budget of the source address.
pub const H_BUDGET: &str = "egress-max-connections-per-destination";
/// Request header: the ingress node's session id (for the egress node's log lines).
pub const H_SESSION: &str = "egress-session";
/// Request header: the account.
pub const H_ACCOUNT: &str = "egress-account";
/// Response header: the address and port the egress node dialled from.
pub const H_BOUND: &str = "egress-bound";
/// Response header: why the egress node refused (a close reason).
pub const H_CLOSE_REASON: &str = "egress-close-reason";
/// Request and response header of a forwarded UDP flow: the stream carries capsules
/// (RFC 9297 §3.4).
pub const H_CAPSULE_PROTOCOL: &str = "capsule-protocol";
/// Response header of health probes: the answering node's id.
pub const H_NODE: &str = "egress-node";

/// What a forwarded stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelKind {
    /// A TCP connection's bytes.
    Tcp,
    /// A UDP flow's datagrams, as capsules.
    Udp,
}

impl TunnelKind {
    /// The extended CONNECT `:protocol`.
    pub fn protocol(self) -> &'static str {
        match self {
            TunnelKind::Tcp => TCP_PROTOCOL,
            TunnelKind::Udp => UDP_PROTOCOL,
        }
    }

    /// The request path.
    pub fn path(self) -> &'static str {
        match self {
            TunnelKind::Tcp => TCP_PATH,
            TunnelKind::Udp => UDP_PATH,
        }
    }

    /// The kind a `:protocol` names, if any.
    pub fn from_protocol(protocol: &str) -> Option<TunnelKind> {
        [TunnelKind::Tcp, TunnelKind::Udp]
            .into_iter()
            .find(|kind| kind.protocol() == protocol)
    }
}

/// Close reasons an egress node may answer with; anything else reads `fleet_peer_refused`.
const KNOWN_CLOSE_REASONS: &[&str] = &[
    "egress_source_unavailable",
    "egress_source_not_held",
    "egress_port_allocation_error",
    "upstream_refused",
    "upstream_unreachable",
    "upstream_connect_timeout",
    "upstream_connect_error",
    "forbidden_destination",
    "fleet_bad_request",
    "fleet_unknown_request",
];

/// The close reason a peer answered with, as one of the known codes.
pub fn close_reason(answered: Option<&str>) -> &'static str {
    answered
        .and_then(|code| KNOWN_CLOSE_REASONS.iter().find(|known| **known == code))
        .copied()
        .unwrap_or("fleet_peer_refused")
}

/// A connection the ingress node asks an egress node to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardRequest {
    /// Source address to bind (an address the egress node holds).
    pub source: IpAddr,
    /// Destination.
    pub destination: SocketAddr,
    /// Per-destination connection budget of `source`.
    pub max_connections_per_destination: u32,
    /// Session id at the ingress node.
    pub session: String,
    /// Account.
    pub account: String,
}

/// A header that is missing or does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("forward request header {header}: {problem}")]
pub struct HeaderError {
    /// Header name.
    pub header: &'static str,
    /// What is wrong.
    pub problem: &'static str,
}

impl ForwardRequest {
    /// Writes the request into headers.
    pub fn to_headers(&self, headers: &mut HeaderMap) {
        let mut put = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        };
        put(H_SOURCE, self.source.to_string());
        put(H_DESTINATION, self.destination.to_string());
        put(H_BUDGET, self.max_connections_per_destination.to_string());
        put(H_SESSION, self.session.clone());
        put(H_ACCOUNT, self.account.clone());
    }

    /// Reads a request from headers.
    pub fn from_headers(headers: &HeaderMap) -> Result<ForwardRequest, HeaderError> {
        Ok(ForwardRequest {
            source: parse(headers, H_SOURCE)?,
            destination: parse(headers, H_DESTINATION)?,
            max_connections_per_destination: parse(headers, H_BUDGET)?,
            session: text(headers, H_SESSION)?.to_owned(),
            account: text(headers, H_ACCOUNT)?.to_owned(),
        })
    }
}

fn text<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, HeaderError> {
    headers
        .get(name)
        .ok_or(HeaderError {
            header: name,
            problem: "missing",
        })?
        .to_str()
        .map_err(|_| HeaderError {
            header: name,
            problem: "not visible ASCII",
        })
}

fn parse<T: std::str::FromStr>(headers: &HeaderMap, name: &'static str) -> Result<T, HeaderError> {
    text(headers, name)?.parse().map_err(|_| HeaderError {
        header: name,
        problem: "does not parse",
    })
}

/// Reads an optional socket address header.
pub fn bound(headers: &HeaderMap) -> Option<SocketAddr> {
    parse(headers, H_BOUND).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_survives_the_headers() {
        let request = ForwardRequest {
            source: "203.0.113.20".parse().expect("ip"),
            destination: "[2001:db8::80]:443".parse().expect("addr"),
            max_connections_per_destination: 40_000,
            session: "lax-1-2a".into(),
            account: "acme".into(),
        };
        let mut headers = HeaderMap::new();
        request.to_headers(&mut headers);
        assert_eq!(ForwardRequest::from_headers(&headers), Ok(request));
    }

    #[test]
    fn each_kind_is_named_by_its_protocol() {
        for kind in [TunnelKind::Tcp, TunnelKind::Udp] {
            assert_eq!(TunnelKind::from_protocol(kind.protocol()), Some(kind));
        }
        assert_eq!(UDP_PROTOCOL, "connect-udp");
        assert_eq!(TunnelKind::from_protocol("websocket"), None);
    }

    #[test]
    fn a_missing_or_bad_header_is_named() {
        let mut headers = HeaderMap::new();
        headers.insert(H_SOURCE, HeaderValue::from_static("not-an-ip"));
        let err = ForwardRequest::from_headers(&headers).expect_err("bad");
        assert_eq!(err.header, H_SOURCE);
        headers.insert(H_SOURCE, HeaderValue::from_static("203.0.113.20"));
        let err = ForwardRequest::from_headers(&headers).expect_err("missing");
        assert_eq!((err.header, err.problem), (H_DESTINATION, "missing"));
    }
}
