use std::net::SocketAddr;

use super::*;
use crate::HostError;

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address")
}

fn round_trip(request: &Request) -> Request {
    let bytes = encode_request(request).expect("encodable");
    assert_partial_until_end(&bytes, parse_request)
}

#[test]
fn ipv4_ipv6_and_domain_requests_round_trip() {
    for target in [
        TargetAddr::Ip(addr("192.0.2.1:443")),
        TargetAddr::Ip(addr("[2001:db8::1]:8443")),
        TargetAddr::Domain("example.com".into(), 80),
        TargetAddr::Domain("a".repeat(63), 1),
    ] {
        for command in [
            Command::Connect,
            Command::Bind,
            Command::UdpAssociate,
            Command::Unknown(9),
        ] {
            let request = Request {
                command,
                target: target.clone(),
            };
            assert_eq!(round_trip(&request), request);
        }
    }
}

#[test]
fn request_bytes_match_rfc1928() {
    let bytes = [5, 1, 0, 1, 192, 0, 2, 1, 0x01, 0xbb];
    let request = assert_partial_until_end(&bytes, parse_request);
    assert_eq!(
        request,
        Request {
            command: Command::Connect,
            target: TargetAddr::Ip(addr("192.0.2.1:443"))
        }
    );
    let bytes = [&[5, 3, 0, 3, 11][..], b"Example.COM", &[0, 53]].concat();
    let request = assert_partial_until_end(&bytes, parse_request);
    assert_eq!(request.command, Command::UdpAssociate);
    assert_eq!(request.target, TargetAddr::Domain("example.com".into(), 53));
    assert_eq!(request.target.to_string(), "example.com:53");
}

#[test]
fn ip_literals_in_the_domain_field_become_ip_targets() {
    let bytes = [&[5, 1, 0, 3, 9][..], b"127.0.0.1", &[0, 80]].concat();
    let request = assert_partial_until_end(&bytes, parse_request);
    assert_eq!(request.target, TargetAddr::Ip(addr("127.0.0.1:80")));
    let bytes = [&[5, 1, 0, 3, 3][..], b"::1", &[0, 80]].concat();
    assert_eq!(
        assert_partial_until_end(&bytes, parse_request).target,
        TargetAddr::Ip(addr("[::1]:80"))
    );
}

#[test]
fn bad_domains_are_refused_with_host_unreachable() {
    let cases: [(&[u8], HostError); 4] = [
        (b"", HostError::Empty),
        (b"a..b", HostError::EmptyLabel),
        (b"ex ample", HostError::BadByte(b' ')),
        (b"\xffbad", HostError::BadByte(0xff)),
    ];
    for (domain, expected) in cases {
        let len = u8::try_from(domain.len()).expect("short");
        let bytes = [&[5, 1, 0, 3, len][..], domain, &[0, 80]].concat();
        let err = parse_request(&bytes).expect_err("bad domain");
        assert!(
            matches!(err, SocksError::BadDomain { ref problem, .. } if *problem == expected),
            "{err:?}"
        );
        assert_eq!(err.reply(), Some(Reply::HostUnreachable));
    }
}

#[test]
fn unknown_address_types_are_refused() {
    let err = parse_request(&[5, 1, 0, 2, 0, 0]).expect_err("bad atyp");
    assert_eq!(err, SocksError::BadAddressType(2));
    assert_eq!(err.reply(), Some(Reply::AddressTypeNotSupported));
}

#[test]
fn bad_version_and_reserved_byte_are_refused() {
    assert_eq!(parse_request(&[4, 1, 0, 1]), Err(SocksError::BadVersion(4)));
    let err = parse_request(&[5, 1, 7, 1]).expect_err("reserved");
    assert!(matches!(err, SocksError::Malformed(_)));
    assert_eq!(err.reply(), Some(Reply::GeneralFailure));
}

#[test]
fn undecodable_domains_cannot_be_encoded() {
    let long = Request {
        command: Command::Connect,
        target: TargetAddr::Domain("a".repeat(256), 1),
    };
    assert!(matches!(
        encode_request(&long),
        Err(SocksError::BadDomain {
            problem: HostError::TooLong,
            ..
        })
    ));
    let empty = Request {
        command: Command::Connect,
        target: TargetAddr::Domain(String::new(), 1),
    };
    assert!(matches!(
        encode_request(&empty),
        Err(SocksError::BadDomain {
            problem: HostError::Empty,
            ..
        })
    ));
}

#[test]
fn replies_carry_code_and_bound_address() {
    assert_eq!(
        encode_reply(Reply::Succeeded, addr("192.0.2.9:1080")),
        [5, 0, 0, 1, 192, 0, 2, 9, 0x04, 0x38]
    );
    let v6 = encode_reply(Reply::NotAllowed, addr("[::1]:1"));
    assert_eq!(v6.len(), 22);
    assert_eq!(&v6[..4], &[5, 2, 0, 4]);
    let codes = [
        (Reply::Succeeded, 0),
        (Reply::GeneralFailure, 1),
        (Reply::NotAllowed, 2),
        (Reply::NetworkUnreachable, 3),
        (Reply::HostUnreachable, 4),
        (Reply::ConnectionRefused, 5),
        (Reply::TtlExpired, 6),
        (Reply::CommandNotSupported, 7),
        (Reply::AddressTypeNotSupported, 8),
    ];
    for (reply, code) in codes {
        assert_eq!(reply.code(), code);
        assert_eq!(encode_reply(reply, addr("0.0.0.0:0"))[1], code);
    }
}
