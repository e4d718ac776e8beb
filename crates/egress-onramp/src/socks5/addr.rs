use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::SocksError;
use crate::http_head::excerpt;
use crate::{Host, HostError};

const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

/// Where a SOCKS5 client asks to go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TargetAddr {
    Ip(SocketAddr),
    /// A validated, lowercased DNS name (see [`Host`]) and a port. A domain field holding an IP
    /// literal parses as [`TargetAddr::Ip`].
    Domain(String, u16),
}

impl TargetAddr {
    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            TargetAddr::Ip(addr) => addr.port(),
            TargetAddr::Domain(_, port) => *port,
        }
    }
}

impl fmt::Display for TargetAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetAddr::Ip(addr) => write!(f, "{addr}"),
            TargetAddr::Domain(name, port) => write!(f, "{name}:{port}"),
        }
    }
}

/// Parses `ATYP ADDR PORT` at the start of `buf`; `Ok(None)` when more bytes are needed.
pub(crate) fn parse_addr(buf: &[u8]) -> Result<Option<(TargetAddr, usize)>, SocksError> {
    let Some(&atyp) = buf.first() else {
        return Ok(None);
    };
    let addr_len = match atyp {
        ATYP_IPV4 => 4,
        ATYP_IPV6 => 16,
        ATYP_DOMAIN => match buf.get(1) {
            Some(&len) => 1 + usize::from(len),
            None => return Ok(None),
        },
        other => return Err(SocksError::BadAddressType(other)),
    };
    let total = 1 + addr_len + 2;
    let Some(field) = buf.get(1..total) else {
        return Ok(None);
    };
    let (addr, port) = field.split_at(addr_len);
    let port = u16::from_be_bytes([port[0], port[1]]);
    let target = match atyp {
        ATYP_IPV4 => {
            let octets: [u8; 4] = addr.try_into().expect("slice is 4 bytes by addr_len");
            TargetAddr::Ip(SocketAddr::new(Ipv4Addr::from(octets).into(), port))
        }
        ATYP_IPV6 => {
            let octets: [u8; 16] = addr.try_into().expect("slice is 16 bytes by addr_len");
            TargetAddr::Ip(SocketAddr::new(Ipv6Addr::from(octets).into(), port))
        }
        _ => domain_target(&addr[1..], port)?,
    };
    Ok(Some((target, total)))
}

fn domain_target(raw: &[u8], port: u16) -> Result<TargetAddr, SocksError> {
    match Host::parse_bare(raw) {
        Ok(Host::Ip(ip)) => Ok(TargetAddr::Ip(SocketAddr::new(ip, port))),
        Ok(Host::Name(name)) => Ok(TargetAddr::Domain(name, port)),
        Err(problem) => Err(SocksError::BadDomain {
            domain: excerpt(&String::from_utf8_lossy(raw)),
            problem,
        }),
    }
}

/// Where encoders write: a `Vec`, or a `bytes::BufMut` with the `bytes` feature.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Checks that `target` can be encoded: a domain must be 1 to 255 bytes to fit its length byte.
pub(crate) fn check_addr(target: &TargetAddr) -> Result<(), SocksError> {
    let TargetAddr::Domain(name, _) = target else {
        return Ok(());
    };
    let problem = match name.len() {
        0 => HostError::Empty,
        1..=255 => return Ok(()),
        _ => HostError::TooLong,
    };
    Err(SocksError::BadDomain {
        domain: excerpt(name),
        problem,
    })
}

/// Writes `ATYP ADDR PORT`; writes nothing when [`check_addr`] fails.
pub(crate) fn write_addr(out: &mut impl Sink, target: &TargetAddr) -> Result<(), SocksError> {
    check_addr(target)?;
    match target {
        TargetAddr::Ip(addr) => write_socket_addr(out, *addr),
        TargetAddr::Domain(name, port) => {
            let len = u8::try_from(name.len()).expect("check_addr bounds the length");
            out.put(&[ATYP_DOMAIN, len]);
            out.put(name.as_bytes());
            out.put(&port.to_be_bytes());
        }
    }
    Ok(())
}

pub(crate) fn write_socket_addr(out: &mut impl Sink, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(v4) => {
            out.put(&[ATYP_IPV4]);
            out.put(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.put(&[ATYP_IPV6]);
            out.put(&v6.octets());
        }
    }
    out.put(&addr.port().to_be_bytes());
}
