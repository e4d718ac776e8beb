use std::net::IpAddr;

use super::*;
use crate::{Host, HostError};

fn ip(text: &str) -> Host {
    Host::Ip(text.parse::<IpAddr>().expect("test IP"))
}

#[test]
fn connect_with_a_name_gives_an_authority_target() {
    let head = parse_ok("CONNECT Example.COM:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    assert_eq!(head.method, "CONNECT");
    assert!(head.is_connect());
    assert_eq!(
        head.target,
        RequestTarget::Authority {
            host: Host::Name("example.com".into()),
            port: 443
        }
    );
    assert_eq!(head.version, Version::Http11);
    assert_eq!(head.body, BodyLength::None);
}

#[test]
fn connect_to_bracketed_ipv6_and_ipv4_literals() {
    let head = parse_ok("CONNECT [::1]:443 HTTP/1.1\r\n\r\n");
    assert_eq!(
        head.target,
        RequestTarget::Authority {
            host: ip("::1"),
            port: 443
        }
    );
    let head = parse_ok("CONNECT [2001:db8::8:800:200c:417a]:8443 HTTP/1.1\r\n\r\n");
    assert_eq!(head.target.host(), &ip("2001:db8::8:800:200c:417a"));
    assert_eq!(head.target.port(), 8443);
    let head = parse_ok("CONNECT 192.0.2.7:22 HTTP/1.0\r\n\r\n");
    assert_eq!(
        head.target,
        RequestTarget::Authority {
            host: ip("192.0.2.7"),
            port: 22
        }
    );
    assert_eq!(head.version, Version::Http10);
}

#[test]
fn connect_to_unbracketed_ipv6_is_a_bad_host() {
    let err = parse_err("CONNECT ::1:443 HTTP/1.1\r\n\r\n");
    assert!(
        matches!(
            err,
            HeadError::BadHost {
                problem: HostError::BadByte(b':'),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn connect_needs_a_valid_port() {
    for target in [
        "example.com",
        "example.com:",
        "[::1]",
        "example.com:0",
        "example.com:65536",
    ] {
        let err = parse_err(&format!("CONNECT {target} HTTP/1.1\r\n\r\n"));
        assert!(matches!(err, HeadError::BadPort(_)), "{target}: {err:?}");
    }
    for target in ["example.com:+443", "example.com:44a", "example.com:000443"] {
        let err = parse_err(&format!("CONNECT {target} HTTP/1.1\r\n\r\n"));
        assert!(matches!(err, HeadError::BadPort(_)), "{target}: {err:?}");
    }
    let head = parse_ok("CONNECT example.com:65535 HTTP/1.1\r\n\r\n");
    assert_eq!(head.target.port(), 65535);
}

#[test]
fn absolute_form_without_port_defaults_to_80() {
    let head = parse_ok("GET http://Example.com/a/b?c=d HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert!(!head.is_connect());
    assert_eq!(
        head.target,
        RequestTarget::Absolute {
            host: Host::Name("example.com".into()),
            port: 80,
            path_and_query: "/a/b?c=d".into(),
        }
    );
    assert_eq!(head.target.host_header(), "example.com");
}

#[test]
fn absolute_form_with_port_and_ipv6() {
    let head = parse_ok("GET HTTP://[2001:db8::1]:8080/x HTTP/1.1\r\n\r\n");
    assert_eq!(
        head.target,
        RequestTarget::Absolute {
            host: ip("2001:db8::1"),
            port: 8080,
            path_and_query: "/x".into()
        }
    );
    assert_eq!(head.target.host_header(), "[2001:db8::1]:8080");
}

#[test]
fn absolute_form_without_path_gets_slash() {
    let head = parse_ok("GET http://example.com HTTP/1.1\r\n\r\n");
    assert!(
        matches!(head.target, RequestTarget::Absolute { ref path_and_query, .. } if path_and_query == "/")
    );
    let head = parse_ok("GET http://example.com?q=1 HTTP/1.1\r\n\r\n");
    assert!(
        matches!(head.target, RequestTarget::Absolute { ref path_and_query, .. } if path_and_query == "/?q=1")
    );
}

#[test]
fn userinfo_in_the_target_is_refused() {
    assert_eq!(
        parse_err("GET http://user:pw@example.com/ HTTP/1.1\r\n\r\n"),
        HeadError::UserinfoInTarget
    );
    assert_eq!(
        parse_err("GET http://evil.com@example.com/ HTTP/1.1\r\n\r\n"),
        HeadError::UserinfoInTarget
    );
    assert_eq!(
        parse_err("CONNECT user@example.com:443 HTTP/1.1\r\n\r\n"),
        HeadError::UserinfoInTarget
    );
    // '@' in the path is not userinfo.
    let head = parse_ok("GET http://example.com/@me HTTP/1.1\r\n\r\n");
    assert_eq!(head.target.host(), &Host::Name("example.com".into()));
}

#[test]
fn origin_and_asterisk_forms_are_refused() {
    let err = parse_err("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(err, HeadError::OriginFormNotAllowed("/index.html".into()));
    assert!(matches!(
        parse_err("OPTIONS * HTTP/1.1\r\n\r\n"),
        HeadError::OriginFormNotAllowed(_)
    ));
}

#[test]
fn method_and_target_form_must_agree() {
    let err = parse_err("GET example.com:443 HTTP/1.1\r\n\r\n");
    assert!(
        matches!(err, HeadError::UnsupportedMethodForTarget { ref method, .. } if method == "GET")
    );
    let err = parse_err("CONNECT http://example.com/ HTTP/1.1\r\n\r\n");
    assert!(
        matches!(err, HeadError::UnsupportedMethodForTarget { .. }),
        "{err:?}"
    );
    assert!(matches!(
        parse_err("GET example HTTP/1.1\r\n\r\n"),
        HeadError::Malformed(_)
    ));
}

#[test]
fn non_http_schemes_are_unsupported() {
    let err = parse_err("GET https://example.com/ HTTP/1.1\r\n\r\n");
    assert_eq!(err, HeadError::UnsupportedScheme("https".into()));
    assert_eq!(err.status(), 501);
    let err = parse_err("GET FTP://example.com/ HTTP/1.1\r\n\r\n");
    assert_eq!(err, HeadError::UnsupportedScheme("ftp".into()));
    assert!(matches!(
        parse_err("GET 1http://example.com/ HTTP/1.1\r\n\r\n"),
        HeadError::Malformed(_)
    ));
}

#[test]
fn bad_hosts_in_absolute_form_are_refused() {
    let err = parse_err("GET http:///path HTTP/1.1\r\n\r\n");
    assert!(
        matches!(
            err,
            HeadError::BadHost {
                problem: HostError::Empty,
                ..
            }
        ),
        "{err:?}"
    );
    let err = parse_err("GET http://a..b/ HTTP/1.1\r\n\r\n");
    assert!(
        matches!(
            err,
            HeadError::BadHost {
                problem: HostError::EmptyLabel,
                ..
            }
        ),
        "{err:?}"
    );
    let err = parse_err("GET http://127.1/ HTTP/1.1\r\n\r\n");
    assert!(matches!(
        err,
        HeadError::BadHost {
            problem: HostError::NumericLastLabel,
            ..
        }
    ));
    let err = parse_err("GET http://[::1/ HTTP/1.1\r\n\r\n");
    assert!(matches!(err, HeadError::BadHost { .. }), "{err:?}");
}

#[test]
fn fragments_are_refused() {
    assert!(matches!(
        parse_err("GET http://example.com/#top HTTP/1.1\r\n\r\n"),
        HeadError::Malformed(_)
    ));
}

#[test]
fn unsupported_versions_are_refused() {
    assert_eq!(
        parse_err("GET http://example.com/ HTTP/2.0\r\n\r\n"),
        HeadError::UnsupportedVersion
    );
    assert_eq!(
        parse_err("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        HeadError::UnsupportedVersion
    );
}

#[test]
fn garbage_is_malformed() {
    let cases: [&[u8]; 3] = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"GET  http://a/ HTTP/1.1\r\n\r\n",
        b"GET http://a/ HTTP/1.1\r\nBad Header: x\r\n\r\n",
    ];
    for text in cases {
        let err = parse_request_head(text, &HeadLimits::default());
        assert!(
            matches!(err, Err(HeadError::Malformed(_))),
            "{text:?}: {err:?}"
        );
    }
}

#[test]
fn headers_keep_order_and_spelling() {
    let head = parse_ok("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nX-B: 2\r\nx-a: 1\r\nX-B: 3\r\n\r\n");
    assert_eq!(header_names(&head.headers), ["Host", "X-B", "x-a", "X-B"]);
    let values: Vec<&[u8]> = head.header_values("x-b").collect();
    assert_eq!(values, [b"2".as_slice(), b"3".as_slice()]);
}

#[test]
fn more_than_one_host_header_is_malformed() {
    let err = parse_err("GET http://example.com/ HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n");
    assert!(matches!(err, HeadError::Malformed(_)));
}

#[test]
fn every_split_of_a_valid_request_is_partial_until_the_end() {
    let text = "POST http://example.com:8080/submit?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 4\r\nProxy-Authorization: Basic dTpw\r\n\r\n";
    let with_body = format!("{text}body");
    let limits = HeadLimits::default();
    for split in 0..text.len() {
        let parsed = parse_request_head(&with_body.as_bytes()[..split], &limits);
        assert_eq!(parsed, Ok(Parsed::Partial), "split at {split}");
    }
    for end in text.len()..=with_body.len() {
        let parsed = parse_request_head(&with_body.as_bytes()[..end], &limits).expect("valid");
        let (head, consumed) = parsed.complete().expect("complete");
        assert_eq!(consumed, text.len());
        assert_eq!(head.body, BodyLength::ContentLength(4));
    }
}

#[test]
fn a_head_without_end_within_the_limit_is_too_large() {
    let limits = HeadLimits {
        max_head_bytes: 64,
        max_headers: 100,
    };
    let mut text = b"GET http://example.com/ HTTP/1.1\r\nX-Pad: ".to_vec();
    text.resize(63, b'a');
    assert_eq!(parse_request_head(&text, &limits), Ok(Parsed::Partial));
    text.push(b'a');
    assert_eq!(
        parse_request_head(&text, &limits),
        Err(HeadError::TooLarge { limit: 64 })
    );
    let complete = b"GET http://example.com/ HTTP/1.1\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    assert!(complete.len() > 64);
    assert_eq!(
        parse_request_head(complete, &limits),
        Err(HeadError::TooLarge { limit: 64 })
    );
}

#[test]
fn a_head_exactly_at_the_limit_is_accepted() {
    let text = b"GET http://example.com/ HTTP/1.1\r\n\r\n";
    let limits = HeadLimits {
        max_head_bytes: text.len(),
        max_headers: 0,
    };
    assert!(matches!(
        parse_request_head(text, &limits),
        Ok(Parsed::Complete { .. })
    ));
}

#[test]
fn too_many_headers_are_refused() {
    let limits = HeadLimits {
        max_head_bytes: 16 * 1024,
        max_headers: 2,
    };
    let text = b"GET http://example.com/ HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
    assert!(matches!(
        parse_request_head(text, &limits),
        Ok(Parsed::Complete { .. })
    ));
    let text = b"GET http://example.com/ HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(
        parse_request_head(text, &limits),
        Err(HeadError::TooManyHeaders { limit: 2 })
    );
}

#[test]
fn default_limits_are_16_kib_and_100_headers() {
    assert_eq!(
        HeadLimits::default(),
        HeadLimits {
            max_head_bytes: 16 * 1024,
            max_headers: 100
        }
    );
}
