use super::*;

fn response(method: &str, text: &str) -> Result<ResponseHead, HeadError> {
    parse_response_head(text.as_bytes(), method, &HeadLimits::default())
        .map(|parsed| parsed.complete().expect("complete head").0)
}

fn framing(method: &str, status_line: &str, headers: &str) -> Result<BodyLength, HeadError> {
    response(method, &format!("{status_line}\r\n{headers}\r\n")).map(|head| head.body)
}

#[test]
fn bodies_follow_content_length_chunking_or_close() {
    assert_eq!(
        framing("GET", "HTTP/1.1 200 OK", "Content-Length: 12\r\n"),
        Ok(BodyLength::ContentLength(12))
    );
    assert_eq!(
        framing("GET", "HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\n"),
        Ok(BodyLength::Chunked)
    );
    assert_eq!(
        framing(
            "GET",
            "HTTP/1.1 200 OK",
            "Transfer-Encoding: gzip, chunked\r\n"
        ),
        Ok(BodyLength::Chunked)
    );
    assert_eq!(
        framing("GET", "HTTP/1.1 200 OK", "Transfer-Encoding: gzip\r\n"),
        Ok(BodyLength::UntilClose)
    );
    assert_eq!(
        framing("GET", "HTTP/1.1 200 OK", ""),
        Ok(BodyLength::UntilClose)
    );
    assert_eq!(
        framing("GET", "HTTP/1.0 200 OK", ""),
        Ok(BodyLength::UntilClose)
    );
}

#[test]
fn some_responses_never_have_a_body() {
    let cl = "Content-Length: 10\r\n";
    assert_eq!(framing("HEAD", "HTTP/1.1 200 OK", cl), Ok(BodyLength::None));
    assert_eq!(
        framing("GET", "HTTP/1.1 204 No Content", cl),
        Ok(BodyLength::None)
    );
    assert_eq!(
        framing("GET", "HTTP/1.1 304 Not Modified", cl),
        Ok(BodyLength::None)
    );
    assert_eq!(
        framing("GET", "HTTP/1.1 100 Continue", ""),
        Ok(BodyLength::None)
    );
    assert_eq!(
        framing("GET", "HTTP/1.1 101 Switching Protocols", ""),
        Ok(BodyLength::None)
    );
    assert_eq!(
        framing("CONNECT", "HTTP/1.1 200 Connection established", cl),
        Ok(BodyLength::None)
    );
    assert_eq!(
        framing("CONNECT", "HTTP/1.1 407 Proxy Auth", cl),
        Ok(BodyLength::ContentLength(10))
    );
}

#[test]
fn interim_responses_are_recognised() {
    let head = response("GET", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n").expect("valid");
    assert!(head.is_interim());
    assert!(!response("GET", "HTTP/1.1 101 Switching Protocols\r\n\r\n")
        .expect("valid")
        .is_interim());
    assert!(!response("GET", "HTTP/1.1 200 OK\r\n\r\n")
        .expect("valid")
        .is_interim());
}

#[test]
fn ambiguous_response_framing_is_refused() {
    let err = framing(
        "GET",
        "HTTP/1.1 200 OK",
        "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
    );
    assert_eq!(err, Err(HeadError::ConflictingFraming));
    let err = framing(
        "GET",
        "HTTP/1.1 200 OK",
        "Content-Length: 3\r\nContent-Length: 4\r\n",
    );
    assert!(matches!(err, Err(HeadError::BadContentLength(_))));
    let err = framing(
        "GET",
        "HTTP/1.1 200 OK",
        "Transfer-Encoding: chunked, gzip\r\n",
    );
    assert!(matches!(
        err,
        Err(HeadError::UnsupportedTransferEncoding(_))
    ));
    let err = framing("GET", "HTTP/1.0 200 OK", "Transfer-Encoding: chunked\r\n");
    assert!(matches!(err, Err(HeadError::Malformed(_))));
}

#[test]
fn status_line_is_read() {
    let head = response("GET", "HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\n").expect("valid");
    assert_eq!(
        (head.version, head.status, head.reason.as_str()),
        (Version::Http10, 404, "Not Found")
    );
    assert!(matches!(
        response("GET", "HTTP/1.1 099 Low\r\n\r\n"),
        Err(HeadError::Malformed(_))
    ));
    assert!(matches!(
        response("GET", "HTTP/1.1 600 High\r\n\r\n"),
        Err(HeadError::Malformed(_))
    ));
    assert!(matches!(
        response("GET", "HTTP/1.1 2000 OK\r\n\r\n"),
        Err(HeadError::Malformed(_))
    ));
}

#[test]
fn partial_and_oversized_responses() {
    let text = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let limits = HeadLimits::default();
    for split in 0..text.len() {
        assert_eq!(
            parse_response_head(&text[..split], "GET", &limits),
            Ok(Parsed::Partial)
        );
    }
    let small = HeadLimits {
        max_head_bytes: 10,
        max_headers: 4,
    };
    assert_eq!(
        parse_response_head(text, "GET", &small),
        Err(HeadError::TooLarge { limit: 10 })
    );
}
