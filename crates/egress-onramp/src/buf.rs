//! Encoders that write into a [`bytes::BufMut`] instead of allocating, for the datagram relay
//! and for write buffers kept as `BytesMut`. A fixed-capacity `BufMut` panics when full, as
//! `BufMut::put_slice` does; `BytesMut` grows.

use std::net::SocketAddr;

use bytes::BufMut;

use crate::socks5::addr::Sink;
use crate::socks5::{request, udp, Reply, Request, SocksError, UdpHeader};

struct BufSink<'a, B>(&'a mut B);

impl<B: BufMut> Sink for BufSink<'_, B> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.put_slice(bytes);
    }
}

/// Writes what [`crate::socks5::encode_reply`] returns.
pub fn put_reply(dst: &mut impl BufMut, reply: Reply, bound: SocketAddr) {
    request::write_reply(&mut BufSink(dst), reply, bound);
}

/// Writes what [`crate::socks5::encode_request`] returns; nothing on error.
pub fn put_request(dst: &mut impl BufMut, req: &Request) -> Result<(), SocksError> {
    request::write_request(&mut BufSink(dst), req)
}

/// Writes what [`crate::socks5::encode_udp_header`] returns; nothing on error.
pub fn put_udp_header(dst: &mut impl BufMut, header: &UdpHeader) -> Result<(), SocksError> {
    udp::write_udp_header(&mut BufSink(dst), header)
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::socks5::{encode_reply, encode_udp_header, TargetAddr};

    #[test]
    fn put_encoders_write_the_same_bytes_as_the_vec_encoders() {
        let bound: SocketAddr = "[2001:db8::1]:1080".parse().expect("addr");
        let mut dst = BytesMut::new();
        put_reply(&mut dst, Reply::Succeeded, bound);
        assert_eq!(&dst[..], &encode_reply(Reply::Succeeded, bound)[..]);

        let header = UdpHeader {
            frag: 0,
            target: TargetAddr::Domain("example.com".into(), 53),
        };
        let mut dst = BytesMut::new();
        put_udp_header(&mut dst, &header).expect("encodable");
        assert_eq!(
            &dst[..],
            &encode_udp_header(&header).expect("encodable")[..]
        );

        let too_long = UdpHeader {
            frag: 0,
            target: TargetAddr::Domain("a".repeat(256), 53),
        };
        let mut dst = BytesMut::new();
        assert!(put_udp_header(&mut dst, &too_long).is_err());
        assert!(dst.is_empty());
    }
}
