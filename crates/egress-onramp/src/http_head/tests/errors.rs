use super::*;
use crate::HostError;

fn every_variant() -> Vec<(HeadError, u16, &'static str)> {
    vec![
        (
            HeadError::TooLarge { limit: 1 },
            431,
            "request_head_too_large",
        ),
        (
            HeadError::TooManyHeaders { limit: 1 },
            431,
            "too_many_headers",
        ),
        (HeadError::Malformed("x".into()), 400, "malformed_request"),
        (
            HeadError::UnsupportedVersion,
            505,
            "unsupported_http_version",
        ),
        (
            HeadError::UnsupportedMethodForTarget {
                method: "GET".into(),
                target: "a:1".into(),
            },
            400,
            "method_target_mismatch",
        ),
        (
            HeadError::OriginFormNotAllowed("/".into()),
            400,
            "origin_form_not_allowed",
        ),
        (
            HeadError::BadHost {
                host: "a..b".into(),
                problem: HostError::EmptyLabel,
            },
            400,
            "bad_host",
        ),
        (HeadError::BadPort("0".into()), 400, "bad_port"),
        (HeadError::UserinfoInTarget, 400, "userinfo_in_target"),
        (
            HeadError::UnsupportedScheme("https".into()),
            501,
            "unsupported_scheme",
        ),
        (
            HeadError::BadCredentials("x".into()),
            400,
            "bad_proxy_authorization",
        ),
        (
            HeadError::BadContentLength("x".into()),
            400,
            "bad_content_length",
        ),
        (
            HeadError::ConflictingFraming,
            400,
            "conflicting_body_framing",
        ),
        (
            HeadError::UnsupportedTransferEncoding("gzip".into()),
            501,
            "unsupported_transfer_encoding",
        ),
        (HeadError::BadChunk("x"), 400, "bad_chunked_body"),
    ]
}

#[test]
fn every_error_maps_to_its_status_and_close_reason() {
    for (error, status, reason) in every_variant() {
        assert_eq!(
            (error.status(), error.reason()),
            (status, reason),
            "{error:?}"
        );
        assert!(!error.to_string().is_empty());
    }
}

#[test]
fn close_reasons_are_unique_snake_case() {
    let reasons: Vec<&str> = every_variant().iter().map(|(e, _, _)| e.reason()).collect();
    let mut unique = reasons.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), reasons.len());
    assert!(reasons
        .iter()
        .all(|r| r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
}

#[test]
fn messages_name_the_offending_input_but_stay_short() {
    let long_host = format!("{}.com", "a".repeat(5000));
    let err = parse_err(&format!("GET http://{long_host}/ HTTP/1.1\r\n\r\n"));
    let message = err.to_string();
    assert!(message.contains("aaaa") && message.len() < 400, "{message}");
    let err = parse_err("GET https://example.com/ HTTP/1.1\r\n\r\n");
    assert!(err.to_string().contains("\"https\""));
}
