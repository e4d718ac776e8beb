//! The SOCKS5 codec on arbitrary bytes: no input may panic, and every message that parses
//! must encode back to bytes that parse to the same message.
#![no_main]

use egress_onramp::socks5::{
    encode_greeting, encode_reply, encode_request, encode_udp_header, encode_user_pass,
    parse_greeting, parse_request, parse_udp_header, parse_user_pass, select_method, Reply,
    SocksError, TargetAddr,
};
use egress_onramp::Parsed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((greeting, consumed)) = complete(data, parse_greeting) {
        let _ = select_method(&greeting, data.len() % 2 == 0);
        let bytes = encode_greeting(&greeting).expect("parsed greetings fit");
        assert_eq!(bytes, data[..consumed]);
    }
    if let Some((credentials, consumed)) = complete(data, parse_user_pass) {
        let bytes = encode_user_pass(&credentials).expect("parsed credentials fit");
        assert_eq!(bytes, data[..consumed]);
    }
    if let Some((request, _)) = complete(data, parse_request) {
        let bytes = encode_request(&request).expect("parsed requests fit");
        assert_eq!(complete(&bytes, parse_request), Some((request.clone(), bytes.len())));
        if let TargetAddr::Ip(addr) = request.target {
            let reply = encode_reply(Reply::Succeeded, addr);
            assert_eq!(reply[1], 0);
        }
    }
    match parse_udp_header(data) {
        Ok((header, offset)) => {
            assert!(offset <= data.len());
            let bytes = encode_udp_header(&header).expect("parsed headers fit");
            assert_eq!(parse_udp_header(&bytes), Ok((header, bytes.len())));
        }
        Err(error) => {
            let _ = (error.reply(), error.reason());
        }
    }
});

/// Parses `data`; a complete message must also parse from exactly its own bytes.
fn complete<T: PartialEq + std::fmt::Debug>(
    data: &[u8],
    parse: impl Fn(&[u8]) -> Result<Parsed<T>, SocksError>,
) -> Option<(T, usize)> {
    let parsed = parse(data);
    match parsed {
        Ok(Parsed::Complete { head, consumed }) => {
            assert!(consumed <= data.len());
            let again = parse(&data[..consumed]);
            assert_eq!(again, Ok(Parsed::Complete { head, consumed }));
            again.ok().and_then(Parsed::complete)
        }
        Ok(Parsed::Partial) => {
            if let Some(shorter) = data.len().checked_sub(1) {
                assert!(matches!(parse(&data[..shorter]), Ok(Parsed::Partial)));
            }
            None
        }
        Err(error) => {
            let _ = (error.reply(), error.reason());
            None
        }
    }
}
