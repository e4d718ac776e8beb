use super::*;

fn parse_response(bytes: &[u8]) -> (ResponseHead, usize) {
    parse_response_head(bytes, "GET", &HeadLimits::default())
        .expect("valid response")
        .complete()
        .expect("complete response")
}

#[test]
fn error_responses_are_closing_plain_text() {
    let bytes = error_response(
        407,
        "proxy_auth_required",
        &[("Proxy-Authenticate", "Basic realm=\"egressd\"")],
    );
    let (head, consumed) = parse_response(&bytes);
    assert_eq!(head.status, 407);
    assert_eq!(head.reason, "Proxy Authentication Required");
    assert_eq!(head.body, BodyLength::ContentLength(20));
    assert_eq!(&bytes[consumed..], b"proxy_auth_required\n");
    let names = header_names(&head.headers);
    assert_eq!(
        names,
        [
            "Content-Type",
            "Content-Length",
            "Connection",
            "Proxy-Authenticate"
        ]
    );
    let connection: Vec<&[u8]> = head
        .headers
        .iter()
        .filter(|(n, _)| n == "Connection")
        .map(|(_, v)| v.as_slice())
        .collect();
    assert_eq!(connection, [b"close".as_slice()]);
}

#[test]
fn every_head_error_status_has_a_reason_phrase() {
    for status in [400, 431, 501, 505, 502, 503, 504, 403] {
        let (head, _) = parse_response(&error_response(status, "x", &[]));
        assert_eq!(head.status, status);
        assert_ne!(head.reason, "Error", "{status}");
    }
}

#[test]
fn extra_headers_cannot_inject_lines() {
    let bytes = error_response(403, "denied", &[("X-A", "1\r\nSet-Cookie: a=b")]);
    let (head, _) = parse_response(&bytes);
    assert_eq!(head.headers.len(), 4);
}

#[test]
fn connect_established_is_a_bodyless_200() {
    let bytes = connect_established();
    let (head, consumed) = parse_response_head(bytes, "CONNECT", &HeadLimits::default())
        .expect("valid")
        .complete()
        .expect("complete");
    assert_eq!(
        (head.status, head.body, consumed),
        (200, BodyLength::None, bytes.len())
    );
}
