use super::addr::{check_addr, parse_addr, write_addr, Sink};
use super::{SocksError, TargetAddr};

/// The header in front of every datagram relayed through UDP ASSOCIATE (RFC 1928 §7).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpHeader {
    /// Fragment number. The relay does not reassemble: drop datagrams where this is not 0.
    pub frag: u8,
    pub target: TargetAddr,
}

/// Parses `RSV(2) FRAG ATYP DST.ADDR DST.PORT` and returns the header and the offset of the
/// payload. A datagram is whole or nothing, so a short one is malformed, not partial.
pub fn parse_udp_header(datagram: &[u8]) -> Result<(UdpHeader, usize), SocksError> {
    let [r0, r1, frag, rest @ ..] = datagram else {
        return Err(SocksError::Malformed(
            "datagram shorter than the UDP header",
        ));
    };
    if (*r0, *r1) != (0, 0) {
        return Err(SocksError::Malformed(
            "reserved bytes of UDP header are not zero",
        ));
    }
    match parse_addr(rest)? {
        Some((target, len)) => Ok((
            UdpHeader {
                frag: *frag,
                target,
            },
            3 + len,
        )),
        None => Err(SocksError::Malformed(
            "datagram shorter than the UDP header",
        )),
    }
}

/// The header bytes to put in front of a datagram's payload.
pub fn encode_udp_header(header: &UdpHeader) -> Result<Vec<u8>, SocksError> {
    let mut out = Vec::with_capacity(22);
    write_udp_header(&mut out, header)?;
    Ok(out)
}

pub(crate) fn write_udp_header(out: &mut impl Sink, header: &UdpHeader) -> Result<(), SocksError> {
    check_addr(&header.target)?;
    out.put(&[0x00, 0x00, header.frag]);
    write_addr(out, &header.target)
}
