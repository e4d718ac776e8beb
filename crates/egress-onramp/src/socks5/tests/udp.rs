use super::*;
use crate::HostError;

#[test]
fn udp_headers_round_trip_and_locate_the_payload() {
    for target in [
        TargetAddr::Ip("203.0.113.5:53".parse().expect("addr")),
        TargetAddr::Ip("[2001:db8::53]:53".parse().expect("addr")),
        TargetAddr::Domain("dns.example".into(), 853),
    ] {
        let header = UdpHeader { frag: 0, target };
        let mut datagram = encode_udp_header(&header).expect("encodable");
        let offset = datagram.len();
        datagram.extend_from_slice(b"payload");
        assert_eq!(parse_udp_header(&datagram), Ok((header, offset)));
        assert_eq!(&datagram[offset..], b"payload");
    }
}

#[test]
fn fragment_numbers_are_reported_for_the_relay_to_drop() {
    let datagram = [0, 0, 3, 1, 10, 0, 0, 1, 0, 53];
    let (header, offset) = parse_udp_header(&datagram).expect("valid");
    assert_eq!((header.frag, offset), (3, 10));
}

#[test]
fn short_or_reserved_datagrams_are_malformed() {
    for datagram in [
        &[][..],
        &[0, 0],
        &[0, 0, 0],
        &[0, 0, 0, 1, 10, 0],
        &[0, 0, 0, 3, 5, b'a'],
    ] {
        let err = parse_udp_header(datagram).expect_err("short");
        assert!(
            matches!(err, SocksError::Malformed(_)),
            "{datagram:?}: {err:?}"
        );
    }
    assert!(matches!(
        parse_udp_header(&[0, 1, 0, 1, 1, 2, 3, 4, 0, 1]),
        Err(SocksError::Malformed(_))
    ));
    assert_eq!(
        parse_udp_header(&[0, 0, 0, 9]),
        Err(SocksError::BadAddressType(9))
    );
    let err = parse_udp_header(&[0, 0, 0, 3, 1, b'.', 0, 1]).expect_err("bad domain");
    assert!(matches!(
        err,
        SocksError::BadDomain {
            problem: HostError::Empty,
            ..
        }
    ));
}
