//! PROXY protocol version 2 (HAProxy's binary header): how an on-net destination learns the
//! dedicated source address of a connection that physically left from another address.
//!
//! The codec has no I/O: [`encode`] builds a header on the stack, [`decode`] reads one from the
//! start of a buffer and says how many bytes it took, or that it needs more.
//!
//! ```text
//! signature (12)  \r\n\r\n\0\r\nQUIT\n
//! ver/cmd   (1)   0x2_ version 2; 0x_0 LOCAL, 0x_1 PROXY
//! fam/proto (1)   0x0_ UNSPEC, 0x1_ INET, 0x2_ INET6, 0x3_ UNIX; 0x_0 UNSPEC, 0x_1 STREAM, 0x_2 DGRAM
//! length    (2)   big endian, bytes after these 16 (addresses, then TLVs)
//! addresses       INET: src 4, dst 4, src port 2, dst port 2; INET6: 16, 16, 2, 2; UNIX: 108, 108
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// The 12 bytes every version 2 header starts with.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Bytes before the address block: signature, ver/cmd, family/transport, length.
const FIXED_LEN: usize = 16;
/// Address block of TCP/UDP over IPv4: two addresses and two ports.
const INET_BLOCK: u16 = 12;
/// Address block of TCP/UDP over IPv6.
const INET6_BLOCK: u16 = 36;
/// Address block of UNIX sockets: two 108-byte paths.
const UNIX_BLOCK: u16 = 216;
/// The longest header [`encode`] writes (IPv6, no TLVs).
pub const MAX_ENCODED_LEN: usize = FIXED_LEN + INET6_BLOCK as usize;

const VERSION_2: u8 = 0x2;
const TCP_OVER_IPV4: u8 = 0x11;
const TCP_OVER_IPV6: u8 = 0x21;

/// An encoded header, held on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    bytes: [u8; MAX_ENCODED_LEN],
    len: u8,
}

impl ProxyHeader {
    /// The header's bytes, to be written before any payload.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for ProxyHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ProxyHeader")
            .field(&self.as_bytes())
            .finish()
    }
}

/// What the sender asks of the receiver (low nibble of byte 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// The connection was made by the proxy itself (a health check): use the real endpoints.
    Local,
    /// The connection is relayed on behalf of another: the addresses are the original ones.
    Proxy,
}

/// The transport of the original connection (low nibble of byte 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Unknown or unspecified.
    Unspec,
    /// TCP (SOCK_STREAM).
    Stream,
    /// UDP (SOCK_DGRAM).
    Datagram,
}

/// A decoded header.
///
/// `source` and `destination` are `None` for a LOCAL command and for families a
/// `SocketAddr` cannot hold (UNSPEC, UNIX); the receiver then uses the connection's own
/// endpoints, as the spec asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyInfo {
    /// LOCAL or PROXY.
    pub command: Command,
    /// The original connection's transport.
    pub transport: Transport,
    /// Where the original connection came from (for egressd: the dedicated egress address).
    pub source: Option<SocketAddr>,
    /// Where it was going.
    pub destination: Option<SocketAddr>,
}

/// The result of [`decode`] on a buffer that is not (yet) wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// The buffer is a valid prefix of a header: read more and decode again from the start.
    Partial,
    /// A whole header, TLVs included; bytes after `consumed` are the connection's payload.
    Complete {
        /// The header.
        header: ProxyInfo,
        /// Bytes of the buffer the header took (16 + its length field).
        consumed: usize,
    },
}

/// Why bytes are not a PROXY v2 header, or addresses cannot be put in one. Decode errors come
/// from the peer that sent the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProxyV2Error {
    /// The first 12 bytes are not the v2 signature (a v1 text header, or no header at all).
    #[error("not a PROXY v2 header: the first 12 bytes are not the v2 signature")]
    BadSignature,
    /// The version nibble of byte 12 is not 2.
    #[error("PROXY header version {version} is not supported (only 2)")]
    UnsupportedVersion {
        /// The high nibble of byte 12.
        version: u8,
    },
    /// The command nibble of byte 12 is neither LOCAL (0) nor PROXY (1).
    #[error("PROXY v2 command {command:#x} is neither LOCAL nor PROXY")]
    UnknownCommand {
        /// The low nibble of byte 12.
        command: u8,
    },
    /// The address family nibble of byte 13 is not UNSPEC, INET, INET6 or UNIX.
    #[error("PROXY v2 address family {family:#x} is unknown")]
    UnknownFamily {
        /// The high nibble of byte 13.
        family: u8,
    },
    /// The transport nibble of byte 13 is not UNSPEC, STREAM or DGRAM.
    #[error("PROXY v2 transport {transport:#x} is unknown")]
    UnknownTransport {
        /// The low nibble of byte 13.
        transport: u8,
    },
    /// The length field is too short for the address block its family needs.
    #[error(
        "PROXY v2 length {length} is shorter than the {needed}-byte address block of its family"
    )]
    LengthTooShort {
        /// The length field.
        length: u16,
        /// The address block's size for the header's family.
        needed: u16,
    },
    /// [`encode`] was given an IPv4 and an IPv6 address (after unmapping IPv4-mapped ones).
    #[error("PROXY v2 source {src} and destination {dst} are of different families")]
    MixedFamilies {
        /// The source given (named `src`: thiserror reserves `source` for a cause).
        src: SocketAddr,
        /// The destination given.
        dst: SocketAddr,
    },
}

/// Encodes a PROXY command for a TCP connection from `src` to `dst`.
///
/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are written as IPv4 first, so a dual-stack
/// socket's peer encodes as what it is; an IPv4 and a (real) IPv6 address cannot share a
/// header and are refused.
pub fn encode(src: SocketAddr, dst: SocketAddr) -> Result<ProxyHeader, ProxyV2Error> {
    let src_c = canonical(src);
    let dst_c = canonical(dst);
    let mut bytes = [0u8; MAX_ENCODED_LEN];
    bytes[..12].copy_from_slice(&SIGNATURE);
    bytes[12] = VERSION_2 << 4 | 0x1;
    let block = match (src_c, dst_c) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            bytes[13] = TCP_OVER_IPV4;
            bytes[16..20].copy_from_slice(&s.ip().octets());
            bytes[20..24].copy_from_slice(&d.ip().octets());
            bytes[24..26].copy_from_slice(&s.port().to_be_bytes());
            bytes[26..28].copy_from_slice(&d.port().to_be_bytes());
            INET_BLOCK
        }
        (SocketAddr::V6(s), SocketAddr::V6(d)) => {
            bytes[13] = TCP_OVER_IPV6;
            bytes[16..32].copy_from_slice(&s.ip().octets());
            bytes[32..48].copy_from_slice(&d.ip().octets());
            bytes[48..50].copy_from_slice(&s.port().to_be_bytes());
            bytes[50..52].copy_from_slice(&d.port().to_be_bytes());
            INET6_BLOCK
        }
        _ => return Err(ProxyV2Error::MixedFamilies { src, dst }),
    };
    bytes[14..16].copy_from_slice(&block.to_be_bytes());
    let len = u8::try_from(FIXED_LEN + usize::from(block)).expect("a header is at most 52 bytes");
    Ok(ProxyHeader { bytes, len })
}

/// Decodes the header at the start of `buf`.
///
/// Errors are reported as soon as the bytes in hand show them (a wrong signature from its
/// first differing byte), so a receiver need not wait for a header that will never be valid.
/// TLVs after the address block are skipped, not checked. The length field allows up to
/// 65,535 bytes after the first 16; a receiver that wants a smaller bound applies it itself.
pub fn decode(buf: &[u8]) -> Result<Decoded, ProxyV2Error> {
    let signature_part = buf.len().min(SIGNATURE.len());
    if buf[..signature_part] != SIGNATURE[..signature_part] {
        return Err(ProxyV2Error::BadSignature);
    }
    let Some(&ver_cmd) = buf.get(12) else {
        return Ok(Decoded::Partial);
    };
    let version = ver_cmd >> 4;
    if version != VERSION_2 {
        return Err(ProxyV2Error::UnsupportedVersion { version });
    }
    let command = match ver_cmd & 0x0f {
        0x0 => Command::Local,
        0x1 => Command::Proxy,
        command => return Err(ProxyV2Error::UnknownCommand { command }),
    };
    let Some(&fam_proto) = buf.get(13) else {
        return Ok(Decoded::Partial);
    };
    let family = fam_proto >> 4;
    let needed = match family {
        0x0 => 0,
        0x1 => INET_BLOCK,
        0x2 => INET6_BLOCK,
        0x3 => UNIX_BLOCK,
        family => return Err(ProxyV2Error::UnknownFamily { family }),
    };
    let transport = match fam_proto & 0x0f {
        0x0 => Transport::Unspec,
        0x1 => Transport::Stream,
        0x2 => Transport::Datagram,
        transport => return Err(ProxyV2Error::UnknownTransport { transport }),
    };
    let (Some(&len_hi), Some(&len_lo)) = (buf.get(14), buf.get(15)) else {
        return Ok(Decoded::Partial);
    };
    let length = u16::from_be_bytes([len_hi, len_lo]);
    if length < needed {
        return Err(ProxyV2Error::LengthTooShort { length, needed });
    }
    let consumed = FIXED_LEN + usize::from(length);
    let Some(block) = buf.get(FIXED_LEN..consumed) else {
        return Ok(Decoded::Partial);
    };

    let (source, destination) = match (command, family) {
        // LOCAL: "the receiver must ... use the real connection endpoints".
        (Command::Local, _) => (None, None),
        (Command::Proxy, 0x1) => inet_addresses(block),
        (Command::Proxy, 0x2) => inet6_addresses(block),
        // UNSPEC and UNIX: nothing a SocketAddr can hold.
        (Command::Proxy, _) => (None, None),
    };
    Ok(Decoded::Complete {
        header: ProxyInfo {
            command,
            transport,
            source,
            destination,
        },
        consumed,
    })
}

/// The address as itself, IPv4-mapped IPv6 as IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

fn inet_addresses(block: &[u8]) -> (Option<SocketAddr>, Option<SocketAddr>) {
    let ip = |at: usize| Ipv4Addr::new(block[at], block[at + 1], block[at + 2], block[at + 3]);
    let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
    (
        Some(SocketAddrV4::new(ip(0), port(8)).into()),
        Some(SocketAddrV4::new(ip(4), port(10)).into()),
    )
}

fn inet6_addresses(block: &[u8]) -> (Option<SocketAddr>, Option<SocketAddr>) {
    let ip = |at: usize| {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&block[at..at + 16]);
        Ipv6Addr::from(octets)
    };
    let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
    (
        Some(SocketAddrV6::new(ip(0), port(32), 0, 0).into()),
        Some(SocketAddrV6::new(ip(16), port(34), 0, 0).into()),
    )
}

/// The source address a receiver should attribute a connection to: the header's for a PROXY
/// command with addresses, otherwise the connection's own peer.
pub fn effective_source(info: &ProxyInfo, tcp_peer: SocketAddr) -> IpAddr {
    info.source.unwrap_or(tcp_peer).ip()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("test address")
    }

    fn complete(buf: &[u8]) -> (ProxyInfo, usize) {
        match decode(buf) {
            Ok(Decoded::Complete { header, consumed }) => (header, consumed),
            other => panic!("expected a complete header, got {other:?}"),
        }
    }

    fn proxied(src: &str, dst: &str) -> ProxyInfo {
        ProxyInfo {
            command: Command::Proxy,
            transport: Transport::Stream,
            source: Some(addr(src)),
            destination: Some(addr(dst)),
        }
    }

    #[test]
    fn ipv4_round_trips() {
        let header = encode(addr("203.0.113.10:40000"), addr("198.51.100.80:443")).expect("v4");
        assert_eq!(header.as_bytes().len(), 28);
        assert_eq!(
            complete(header.as_bytes()),
            (proxied("203.0.113.10:40000", "198.51.100.80:443"), 28)
        );
    }

    #[test]
    fn ipv6_round_trips() {
        let src = "[2001:db8:1::7]:51000";
        let dst = "[2001:db8:ffff::80]:8443";
        let header = encode(addr(src), addr(dst)).expect("v6");
        assert_eq!(header.as_bytes().len(), MAX_ENCODED_LEN);
        assert_eq!(complete(header.as_bytes()), (proxied(src, dst), 52));
    }

    /// Written out by hand from the spec (section 2.2), not from `encode`.
    const SPEC_V4: [u8; 28] = [
        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, // signature
        0x21, // version 2, PROXY
        0x11, // AF_INET, STREAM
        0x00, 0x0c, // 12 bytes follow
        192, 0, 2, 1, // source 192.0.2.1
        198, 51, 100, 80, // destination 198.51.100.80
        0xdc, 0x04, // source port 56324
        0x01, 0xbb, // destination port 443
    ];

    #[test]
    fn the_spec_byte_layout_is_what_encode_writes_and_decode_reads() {
        let header = encode(addr("192.0.2.1:56324"), addr("198.51.100.80:443")).expect("v4");
        assert_eq!(header.as_bytes(), &SPEC_V4[..]);
        assert_eq!(
            complete(&SPEC_V4),
            (proxied("192.0.2.1:56324", "198.51.100.80:443"), 28)
        );
    }

    #[test]
    fn the_spec_ipv6_layout_is_what_encode_writes() {
        let header = encode(addr("[2001:db8::1]:1"), addr("[2001:db8::2]:2")).expect("v6");
        let mut expected = Vec::from(SIGNATURE);
        expected.extend_from_slice(&[0x21, 0x21, 0x00, 0x24]);
        expected.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        expected.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        expected.extend_from_slice(&[0x00, 0x01, 0x00, 0x02]);
        assert_eq!(header.as_bytes(), &expected[..]);
    }

    #[test]
    fn every_proper_prefix_of_a_header_is_partial() {
        let v6 = encode(addr("[2001:db8::1]:1"), addr("[2001:db8::2]:2")).expect("v6");
        for whole in [&SPEC_V4[..], v6.as_bytes()] {
            for split in 0..whole.len() {
                assert_eq!(
                    decode(&whole[..split]),
                    Ok(Decoded::Partial),
                    "split at {split}"
                );
            }
        }
    }

    #[test]
    fn payload_after_the_header_is_not_consumed() {
        let mut buf = Vec::from(SPEC_V4);
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(complete(&buf).1, SPEC_V4.len());
    }

    #[test]
    fn tlvs_are_skipped_and_counted() {
        let mut buf = Vec::from(SPEC_V4);
        // PP2_TYPE_AUTHORITY "origin", then PP2_TYPE_NOOP with 2 bytes.
        let tlvs = [
            0x02, 0x00, 0x06, b'o', b'r', b'i', b'g', b'i', b'n', 0x04, 0x00, 0x02, 0, 0,
        ];
        buf[15] = 12 + tlvs.len() as u8;
        buf.extend_from_slice(&tlvs);
        buf.extend_from_slice(b"payload");
        let (header, consumed) = complete(&buf);
        assert_eq!(header, proxied("192.0.2.1:56324", "198.51.100.80:443"));
        assert_eq!(consumed, 28 + tlvs.len());
        assert_eq!(decode(&buf[..consumed - 1]), Ok(Decoded::Partial));
    }

    #[test]
    fn local_command_carries_no_addresses() {
        let mut buf = Vec::from(SPEC_V4);
        buf[12] = 0x20;
        let (header, consumed) = complete(&buf);
        assert_eq!(header.command, Command::Local);
        assert_eq!((header.source, header.destination), (None, None));
        assert_eq!(consumed, 28);
        let peer = addr("10.200.1.1:5000");
        assert_eq!(effective_source(&header, peer), peer.ip());

        // A LOCAL health check usually sends no address block at all.
        let mut bare = Vec::from(SIGNATURE);
        bare.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
        assert_eq!(complete(&bare).1, 16);
    }

    #[test]
    fn unspec_and_unix_families_are_accepted_without_addresses() {
        let mut unspec = Vec::from(SIGNATURE);
        unspec.extend_from_slice(&[0x21, 0x00, 0x00, 0x03, 1, 2, 3]);
        let (header, consumed) = complete(&unspec);
        assert_eq!(
            (header.command, header.transport),
            (Command::Proxy, Transport::Unspec)
        );
        assert_eq!((header.source, consumed), (None, 19));

        let mut unix = Vec::from(SIGNATURE);
        unix.extend_from_slice(&[0x21, 0x31, 0x00, 216]);
        unix.resize(16 + 216, 0);
        assert_eq!(
            complete(&unix),
            (
                ProxyInfo {
                    command: Command::Proxy,
                    transport: Transport::Stream,
                    source: None,
                    destination: None
                },
                232,
            )
        );
    }

    #[test]
    fn udp_headers_keep_their_addresses() {
        let mut buf = Vec::from(SPEC_V4);
        buf[13] = 0x12;
        let (header, _) = complete(&buf);
        assert_eq!(header.transport, Transport::Datagram);
        assert_eq!(header.source, Some(addr("192.0.2.1:56324")));
    }

    #[test]
    fn a_wrong_signature_is_refused_from_its_first_wrong_byte() {
        assert_eq!(
            decode(b"PROXY TCP4 192.0.2.1 "),
            Err(ProxyV2Error::BadSignature)
        );
        assert_eq!(decode(b"\r\n\r\nX"), Err(ProxyV2Error::BadSignature));
        assert_eq!(decode(b"\r\n\r\n"), Ok(Decoded::Partial));
    }

    #[test]
    fn each_malformed_field_has_its_own_error() {
        let with = |at: usize, value: u8| {
            let mut buf = SPEC_V4;
            buf[at] = value;
            decode(&buf)
        };
        assert_eq!(
            with(12, 0x11),
            Err(ProxyV2Error::UnsupportedVersion { version: 1 })
        );
        assert_eq!(
            with(12, 0x31),
            Err(ProxyV2Error::UnsupportedVersion { version: 3 })
        );
        assert_eq!(
            with(12, 0x22),
            Err(ProxyV2Error::UnknownCommand { command: 2 })
        );
        assert_eq!(
            with(13, 0x41),
            Err(ProxyV2Error::UnknownFamily { family: 4 })
        );
        assert_eq!(
            with(13, 0x13),
            Err(ProxyV2Error::UnknownTransport { transport: 3 })
        );
        assert_eq!(
            with(15, 11),
            Err(ProxyV2Error::LengthTooShort {
                length: 11,
                needed: 12
            })
        );
        let mut v6 = SPEC_V4;
        v6[13] = 0x21;
        assert_eq!(
            decode(&v6),
            Err(ProxyV2Error::LengthTooShort {
                length: 12,
                needed: 36
            })
        );
        // Errors show as soon as their byte is in, without waiting for the rest.
        assert_eq!(
            decode(&with_last(&SPEC_V4[..13], 0x22)),
            Err(ProxyV2Error::UnknownCommand { command: 2 })
        );
    }

    fn with_last(prefix: &[u8], last: u8) -> Vec<u8> {
        let mut buf = prefix.to_vec();
        buf[prefix.len() - 1] = last;
        buf
    }

    #[test]
    fn ipv4_mapped_addresses_encode_as_ipv4() {
        let header = encode(addr("[::ffff:192.0.2.1]:56324"), addr("198.51.100.80:443"))
            .expect("mapped source is IPv4");
        assert_eq!(header.as_bytes(), &SPEC_V4[..]);
    }

    #[test]
    fn mixed_families_are_refused() {
        let src = addr("192.0.2.1:1");
        let dst = addr("[2001:db8::2]:2");
        assert_eq!(
            encode(src, dst),
            Err(ProxyV2Error::MixedFamilies { src, dst })
        );
        assert!(encode(dst, src).is_err());
    }
}
