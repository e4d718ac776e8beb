//! The PROXY v2 decoder on arbitrary bytes: no input may panic, a complete header decodes the
//! same from exactly its own bytes (and one byte less is partial), and the addresses of a PROXY
//! TCP header encode back to a header that decodes to the same addresses.
#![no_main]

use std::net::SocketAddr;

use egress_net::proxy_v2::{decode, encode, Command, Decoded, ProxyV2Error, Transport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, consumed) = match decode(data) {
        Ok(Decoded::Complete { header, consumed }) => (header, consumed),
        Ok(Decoded::Partial) | Err(_) => return,
    };
    assert!((16..=data.len()).contains(&consumed));
    assert_eq!(
        decode(&data[..consumed]),
        Ok(Decoded::Complete { header, consumed })
    );
    assert_eq!(decode(&data[..consumed - 1]), Ok(Decoded::Partial));

    let (Command::Proxy, Transport::Stream, Some(src), Some(dst)) = (
        header.command,
        header.transport,
        header.source,
        header.destination,
    ) else {
        return;
    };
    match encode(src, dst) {
        Ok(again) => {
            let bytes = again.as_bytes();
            let Ok(Decoded::Complete {
                header: back,
                consumed,
            }) = decode(bytes)
            else {
                panic!("encoded header does not decode: {bytes:?}");
            };
            assert_eq!(consumed, bytes.len());
            assert_eq!(back.source, Some(canonical(src)));
            assert_eq!(back.destination, Some(canonical(dst)));
        }
        // Only an IPv6 header with one IPv4-mapped address can unmap into mixed families.
        Err(ProxyV2Error::MixedFamilies { .. }) => {
            assert!(src.is_ipv6() && dst.is_ipv6());
            assert_ne!(
                canonical(src).is_ipv4(),
                canonical(dst).is_ipv4(),
                "{src} {dst}"
            );
        }
        Err(other) => panic!("encoding {src} -> {dst}: {other}"),
    }
});

fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}
