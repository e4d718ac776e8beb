use super::*;
use crate::Parsed;

mod body;
mod chunked;
mod errors;
mod forward;
mod reply;
mod request;
mod response;

/// Parses a whole request head and checks that all of `text` was consumed.
fn parse_ok(text: &str) -> RequestHead {
    match parse_request_head(text.as_bytes(), &HeadLimits::default()) {
        Ok(Parsed::Complete { head, consumed }) => {
            assert_eq!(consumed, text.len(), "consumed of {text:?}");
            head
        }
        other => panic!("expected a complete head for {text:?}, got {other:?}"),
    }
}

fn parse_err(text: &str) -> HeadError {
    match parse_request_head(text.as_bytes(), &HeadLimits::default()) {
        Err(e) => e,
        other => panic!("expected an error for {text:?}, got {other:?}"),
    }
}

fn request_with(headers: &str) -> String {
    format!("POST http://example.com/upload HTTP/1.1\r\nHost: example.com\r\n{headers}\r\n")
}

fn header_names<N: AsRef<str>, V>(headers: &[(N, V)]) -> Vec<&str> {
    headers.iter().map(|(name, _)| name.as_ref()).collect()
}
