use super::*;

fn body_of(headers: &str) -> Result<BodyLength, HeadError> {
    parse_request_head(request_with(headers).as_bytes(), &HeadLimits::default())
        .map(|parsed| parsed.complete().expect("complete head").0.body)
}

#[test]
fn requests_without_framing_have_no_body() {
    assert_eq!(body_of(""), Ok(BodyLength::None));
}

#[test]
fn content_length_frames_the_body() {
    assert_eq!(
        body_of("Content-Length: 42\r\n"),
        Ok(BodyLength::ContentLength(42))
    );
    assert_eq!(
        body_of("Content-Length: 0\r\n"),
        Ok(BodyLength::ContentLength(0))
    );
    assert_eq!(
        body_of("Content-Length: 18446744073709551615\r\n"),
        Ok(BodyLength::ContentLength(u64::MAX))
    );
}

#[test]
fn repeated_identical_content_lengths_are_one() {
    assert_eq!(
        body_of("Content-Length: 5, 5\r\n"),
        Ok(BodyLength::ContentLength(5))
    );
    assert_eq!(
        body_of("Content-Length: 5\r\ncontent-length: 5\r\n"),
        Ok(BodyLength::ContentLength(5))
    );
}

#[test]
fn differing_content_lengths_are_refused() {
    let err = body_of("Content-Length: 5\r\nContent-Length: 6\r\n").expect_err("smuggling");
    assert!(matches!(err, HeadError::BadContentLength(_)), "{err:?}");
    assert_eq!(err.status(), 400);
    let err = body_of("Content-Length: 5, 6\r\n").expect_err("smuggling");
    assert!(matches!(err, HeadError::BadContentLength(_)));
}

#[test]
fn invalid_content_lengths_are_refused() {
    for value in [
        "-1",
        "+5",
        "",
        "1e3",
        "0x10",
        "5 5",
        "18446744073709551616",
        "5,",
    ] {
        let err = body_of(&format!("Content-Length: {value}\r\n")).expect_err(value);
        assert!(
            matches!(err, HeadError::BadContentLength(_)),
            "{value}: {err:?}"
        );
    }
}

#[test]
fn chunked_transfer_encoding_frames_the_body() {
    assert_eq!(
        body_of("Transfer-Encoding: chunked\r\n"),
        Ok(BodyLength::Chunked)
    );
    assert_eq!(
        body_of("Transfer-Encoding: Chunked \r\n"),
        Ok(BodyLength::Chunked)
    );
}

#[test]
fn transfer_encoding_with_content_length_is_refused() {
    let err =
        body_of("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n").expect_err("smuggling");
    assert_eq!(err, HeadError::ConflictingFraming);
    let err = body_of("Content-Length: 5\r\nTransfer-Encoding: gzip\r\n").expect_err("smuggling");
    assert_eq!(err, HeadError::ConflictingFraming);
}

#[test]
fn transfer_codings_other_than_a_single_chunked_are_unsupported() {
    for value in [
        "gzip",
        "gzip, chunked",
        "chunked, chunked",
        "chunked;x=1",
        "",
        "xchunked",
    ] {
        let err = body_of(&format!("Transfer-Encoding: {value}\r\n")).expect_err(value);
        assert!(
            matches!(err, HeadError::UnsupportedTransferEncoding(_)),
            "{value}: {err:?}"
        );
        assert_eq!(err.status(), 501);
    }
    let err =
        body_of("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n").expect_err("twice");
    assert!(matches!(err, HeadError::UnsupportedTransferEncoding(_)));
}

#[test]
fn transfer_encoding_in_http_1_0_is_refused() {
    let text = "POST http://example.com/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert!(matches!(parse_err(text), HeadError::Malformed(_)));
}

#[test]
fn header_syntax_tricks_used_for_smuggling_are_refused() {
    for headers in [
        "Transfer-Encoding : chunked\r\n",
        "Content-Length: 5\r\n 6\r\n",
        " Transfer-Encoding: chunked\r\n",
        "Transfer-Encoding\x0b: chunked\r\n",
        "Content-Length: 5\x00\r\n",
    ] {
        let text = request_with(headers);
        let result = parse_request_head(text.as_bytes(), &HeadLimits::default());
        assert!(
            matches!(result, Err(HeadError::Malformed(_))),
            "{headers:?}: {result:?}"
        );
    }
}
