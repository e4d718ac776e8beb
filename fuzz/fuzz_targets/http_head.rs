//! The HTTP/1.1 proxy codec on arbitrary bytes: no input may panic, and what parses must
//! parse the same way from its own prefix, after splitting, and after re-serializing.
#![no_main]

use egress_onramp::http_head::{
    forwarded_headers, is_keep_alive, parse_request_head, parse_response_head,
    proxy_authorization_basic, serialize_origin_request, BodyLength, ChunkedDecoder, HeadError,
    HeadLimits, RequestTarget,
};
use egress_onramp::{Host, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = HeadLimits::default();
    let small = HeadLimits { max_head_bytes: 512, max_headers: 8 };
    for limits in [&limits, &small] {
        check_request(data, limits);
    }
    let method = ["GET", "HEAD", "CONNECT"][usize::from(data.first().copied().unwrap_or(0) % 3)];
    check_response(data, method, &limits);
    check_chunked(data);
});

fn check_request(data: &[u8], limits: &HeadLimits) {
    let parsed = parse_request_head(data, limits);
    match &parsed {
        Ok(Parsed::Complete { head, consumed }) => {
            assert!(*consumed <= data.len() && *consumed <= limits.max_head_bytes);
            assert_eq!(parse_request_head(&data[..*consumed], limits), parsed);
            let host = head.target.host();
            assert_eq!(Host::parse(&host.to_string()).as_ref(), Ok(host));
            let _ = proxy_authorization_basic(head);
            let _ = is_keep_alive(head);
            let forwarded = forwarded_headers(head, "fuzz");
            let upstream = serialize_origin_request(head, &forwarded);
            let roomy = HeadLimits { max_head_bytes: usize::MAX, max_headers: 1024 };
            let again = parse_request_head(&upstream, &roomy);
            match (&head.target, again) {
                (RequestTarget::Authority { .. }, Ok(Parsed::Complete { head: again, .. })) => {
                    assert_eq!(again.target, head.target);
                    assert_eq!(again.body, head.body);
                }
                (RequestTarget::Absolute { .. }, Err(HeadError::OriginFormNotAllowed(_))) => {}
                (_, other) => panic!("serialized request reparsed as {other:?}"),
            }
            if head.body == BodyLength::Chunked {
                let _ = ChunkedDecoder::new().feed(&data[*consumed..]);
            }
        }
        Ok(Parsed::Partial) => {
            assert!(data.len() < limits.max_head_bytes);
            let half = &data[..data.len() / 2];
            assert_eq!(parse_request_head(half, limits), Ok(Parsed::Partial));
        }
        Err(error) => {
            assert!(error.status() >= 400);
            assert!(!error.reason().is_empty());
        }
    }
}

fn check_response(data: &[u8], method: &str, limits: &HeadLimits) {
    let parsed = parse_response_head(data, method, limits);
    if let Ok(Parsed::Complete { head, consumed }) = &parsed {
        assert!(*consumed <= data.len());
        assert_eq!(parse_response_head(&data[..*consumed], method, limits), parsed);
        if method == "HEAD" || head.status == 204 || head.status == 304 {
            assert_eq!(head.body, BodyLength::None);
        }
    }
}

/// One-shot and split feeding must agree on where the body ends.
fn check_chunked(data: &[u8]) {
    let whole = ChunkedDecoder::new().feed(data).map(|p| (p.consumed, p.done));
    let cut = data.len() / 3;
    let mut decoder = ChunkedDecoder::new();
    let split = decoder.feed(&data[..cut]).and_then(|first| {
        if first.done {
            return Ok((first.consumed, true));
        }
        assert_eq!(first.consumed, cut);
        decoder.feed(&data[cut..]).map(|second| (cut + second.consumed, second.done))
    });
    match (whole, split) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("one-shot {a:?} but split {b:?}"),
    }
}
