use super::*;

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn value_of<'a>(headers: &'a [ForwardedField<'_>], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

#[test]
fn hop_by_hop_headers_are_removed_and_via_appended() {
    let head = parse_ok(&request_with(
        "Connection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic dTpw\r\n\
         Proxy-Authenticate: Basic\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-Sum\r\n\
         Upgrade: websocket\r\nX-Secret: 1\r\nx-secret: 2\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\n",
    ));
    let forwarded = forwarded_headers(&head, "egressd");
    assert_eq!(
        header_names(&forwarded),
        ["Host", "Accept", "Transfer-Encoding", "Via"]
    );
    assert_eq!(value_of(&forwarded, "via"), Some(b"1.1 egressd".as_slice()));
}

#[test]
fn framing_and_host_cannot_be_stripped_through_connection() {
    let head = parse_ok(&request_with(
        "Connection: Content-Length, Host, Transfer-Encoding\r\nContent-Length: 3\r\n",
    ));
    let forwarded = forwarded_headers(&head, "gw");
    assert_eq!(header_names(&forwarded), ["Host", "Content-Length", "Via"]);
}

#[test]
fn host_is_taken_from_the_target() {
    let head =
        parse_ok("GET http://example.com:8080/ HTTP/1.1\r\nAccept: */*\r\nHost: evil.test\r\n\r\n");
    let forwarded = forwarded_headers(&head, "gw");
    assert_eq!(header_names(&forwarded), ["Accept", "Host", "Via"]);
    assert_eq!(
        value_of(&forwarded, "host"),
        Some(b"example.com:8080".as_slice())
    );
    let head = parse_ok("GET http://example.com/ HTTP/1.1\r\nAccept: */*\r\n\r\n");
    let forwarded = forwarded_headers(&head, "gw");
    assert_eq!(header_names(&forwarded), ["Host", "Accept", "Via"]);
    assert_eq!(
        value_of(&forwarded, "host"),
        Some(b"example.com".as_slice())
    );
}

#[test]
fn via_names_the_received_version_and_keeps_earlier_hops() {
    let head = parse_ok("GET http://example.com/ HTTP/1.0\r\nVia: 1.1 corp-proxy\r\n\r\n");
    let forwarded = forwarded_headers(&head, "egressd\r\nX-Injected: 1");
    let vias: Vec<&[u8]> = forwarded
        .iter()
        .filter(|(n, _)| n == "Via")
        .map(|(_, v)| v.as_ref())
        .collect();
    assert_eq!(
        vias,
        [
            b"1.1 corp-proxy".as_slice(),
            b"1.0 egressd  X-Injected: 1".as_slice()
        ]
    );
}

#[test]
fn keep_alive_follows_version_and_connection() {
    let cases = [
        ("HTTP/1.1", "", true),
        ("HTTP/1.1", "Connection: close\r\n", false),
        ("HTTP/1.1", "Connection: Upgrade, CLOSE\r\n", false),
        ("HTTP/1.1", "Proxy-Connection: close\r\n", false),
        ("HTTP/1.0", "", false),
        ("HTTP/1.0", "Connection: Keep-Alive\r\n", true),
        ("HTTP/1.0", "Proxy-Connection: keep-alive\r\n", true),
        (
            "HTTP/1.0",
            "Connection: keep-alive\r\nConnection: close\r\n",
            false,
        ),
    ];
    for (version, headers, expected) in cases {
        let head = parse_ok(&format!(
            "GET http://example.com/ {version}\r\n{headers}\r\n"
        ));
        assert_eq!(is_keep_alive(&head), expected, "{version} {headers:?}");
    }
}

#[test]
fn basic_proxy_credentials_are_decoded() {
    let head = parse_ok(&request_with(&format!(
        "Proxy-Authorization: basic {}\r\n",
        b64("alice:s3cr:et")
    )));
    assert_eq!(
        proxy_authorization_basic(&head),
        Some(Ok(("alice".into(), "s3cr:et".into())))
    );
    let head = parse_ok(&request_with(&format!(
        "Proxy-Authorization: Basic {}\r\n",
        b64("bob:")
    )));
    assert_eq!(
        proxy_authorization_basic(&head),
        Some(Ok(("bob".into(), String::new())))
    );
    assert_eq!(
        proxy_authorization_basic(&parse_ok(&request_with(""))),
        None
    );
}

#[test]
fn bad_proxy_credentials_are_errors() {
    let non_utf8 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode([b'a', b':', 0xff])
    };
    let cases = [
        "Proxy-Authorization: Basic\r\n".to_owned(),
        "Proxy-Authorization: Bearer abc\r\n".to_owned(),
        "Proxy-Authorization: Basic !!!\r\n".to_owned(),
        format!("Proxy-Authorization: Basic {}\r\n", b64("no-colon")),
        format!("Proxy-Authorization: Basic {non_utf8}\r\n"),
        format!(
            "Proxy-Authorization: Basic {0}\r\nProxy-Authorization: Basic {0}\r\n",
            b64("a:b")
        ),
    ];
    for case in cases {
        let head = parse_ok(&request_with(&case));
        let result = proxy_authorization_basic(&head).expect("header present");
        let err = result.expect_err(&case);
        assert!(
            matches!(err, HeadError::BadCredentials(_)),
            "{case:?}: {err:?}"
        );
        assert_eq!(
            (err.status(), err.reason()),
            (400, "bad_proxy_authorization")
        );
    }
}

#[test]
fn the_origin_request_is_in_origin_form() {
    let head = parse_ok("GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n");
    let headers = forwarded_headers(&head, "gw");
    let bytes = serialize_origin_request(&head, &headers);
    assert_eq!(
        String::from_utf8(bytes).expect("ascii"),
        "GET /a?b HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nVia: 1.1 gw\r\n\r\n"
    );
}

#[test]
fn serialized_headers_cannot_inject_lines() {
    let head = parse_ok("GET http://example.com/ HTTP/1.0\r\n\r\n");
    let headers: Vec<ForwardedField<'_>> = vec![
        ("X-Plan".into(), b"a\r\nX-Evil: 1".as_slice().into()),
        ("Bad Name".into(), b"x".as_slice().into()),
        ("".into(), b"x".as_slice().into()),
    ];
    let bytes = serialize_origin_request(&head, &headers);
    assert_eq!(bytes, b"GET / HTTP/1.0\r\nX-Plan: a  X-Evil: 1\r\n\r\n");
}

#[test]
fn a_connect_request_serializes_in_authority_form() {
    let head = parse_ok("CONNECT [::1]:443 HTTP/1.1\r\n\r\n");
    let bytes = serialize_origin_request(&head, &forwarded_headers(&head, "gw"));
    assert_eq!(
        bytes,
        b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\nVia: 1.1 gw\r\n\r\n"
    );
}
