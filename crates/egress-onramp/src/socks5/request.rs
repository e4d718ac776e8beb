use std::net::SocketAddr;

use super::addr::{check_addr, parse_addr, write_addr, write_socket_addr, Sink};
use super::{SocksError, TargetAddr, SOCKS_VERSION};
use crate::Parsed;

/// What the client asks the server to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Connect,
    Bind,
    UdpAssociate,
    /// Any other byte: answer [`Reply::CommandNotSupported`].
    Unknown(u8),
}

impl Command {
    /// The command byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            Command::Connect => 0x01,
            Command::Bind => 0x02,
            Command::UdpAssociate => 0x03,
            Command::Unknown(code) => code,
        }
    }

    fn from_code(code: u8) -> Command {
        match code {
            0x01 => Command::Connect,
            0x02 => Command::Bind,
            0x03 => Command::UdpAssociate,
            other => Command::Unknown(other),
        }
    }
}

/// A SOCKS5 request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Request {
    pub command: Command,
    /// For UDP ASSOCIATE, where the client will send datagrams from (often all zeros).
    pub target: TargetAddr,
}

/// The reply field of the server's answer to a request (RFC 1928 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reply {
    Succeeded,
    GeneralFailure,
    /// Refused by the ruleset (policy).
    NotAllowed,
    NetworkUnreachable,
    HostUnreachable,
    ConnectionRefused,
    TtlExpired,
    CommandNotSupported,
    AddressTypeNotSupported,
}

impl Reply {
    /// The reply byte on the wire.
    pub fn code(self) -> u8 {
        match self {
            Reply::Succeeded => 0x00,
            Reply::GeneralFailure => 0x01,
            Reply::NotAllowed => 0x02,
            Reply::NetworkUnreachable => 0x03,
            Reply::HostUnreachable => 0x04,
            Reply::ConnectionRefused => 0x05,
            Reply::TtlExpired => 0x06,
            Reply::CommandNotSupported => 0x07,
            Reply::AddressTypeNotSupported => 0x08,
        }
    }
}

/// Parses `VER CMD RSV ATYP DST.ADDR DST.PORT`.
pub fn parse_request(buf: &[u8]) -> Result<Parsed<Request>, SocksError> {
    let Some(&version) = buf.first() else {
        return Ok(Parsed::Partial);
    };
    if version != SOCKS_VERSION {
        return Err(SocksError::BadVersion(version));
    }
    let (Some(&command), Some(&reserved)) = (buf.get(1), buf.get(2)) else {
        return Ok(Parsed::Partial);
    };
    if reserved != 0 {
        return Err(SocksError::Malformed(
            "reserved byte of request is not zero",
        ));
    }
    match parse_addr(&buf[3..])? {
        Some((target, len)) => Ok(Parsed::Complete {
            head: Request {
                command: Command::from_code(command),
                target,
            },
            consumed: 3 + len,
        }),
        None => Ok(Parsed::Partial),
    }
}

/// Client side of a request, for tests and upstream SOCKS dialling.
pub fn encode_request(request: &Request) -> Result<Vec<u8>, SocksError> {
    let mut out = Vec::with_capacity(22);
    write_request(&mut out, request)?;
    Ok(out)
}

pub(crate) fn write_request(out: &mut impl Sink, request: &Request) -> Result<(), SocksError> {
    check_addr(&request.target)?;
    out.put(&[SOCKS_VERSION, request.command.code(), 0x00]);
    write_addr(out, &request.target)
}

/// `VER REP RSV ATYP BND.ADDR BND.PORT`. `bound` is the server's address for the connection
/// (CONNECT) or the relay address the client sends datagrams to (UDP ASSOCIATE); failures
/// usually send `0.0.0.0:0`.
pub fn encode_reply(reply: Reply, bound: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(22);
    write_reply(&mut out, reply, bound);
    out
}

pub(crate) fn write_reply(out: &mut impl Sink, reply: Reply, bound: SocketAddr) {
    out.put(&[SOCKS_VERSION, reply.code(), 0x00]);
    write_socket_addr(out, bound);
}
