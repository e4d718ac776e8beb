use super::*;
use crate::Parsed;

mod errors;
mod handshake;
mod request;
mod udp;

/// Asserts every proper prefix of `bytes` parses as partial and all of it as complete.
fn assert_partial_until_end<T: std::fmt::Debug>(
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<Parsed<T>, SocksError>,
) -> T {
    for split in 0..bytes.len() {
        let parsed = parse(&bytes[..split]).expect("prefix of a valid message");
        assert!(parsed.is_partial(), "split at {split}: {parsed:?}");
    }
    let mut with_extra = bytes.to_vec();
    with_extra.extend_from_slice(b"tail");
    let (head, consumed) = parse(&with_extra)
        .expect("valid")
        .complete()
        .expect("complete");
    assert_eq!(consumed, bytes.len());
    head
}
