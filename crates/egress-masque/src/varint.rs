//! QUIC variable-length integers (RFC 9000 §16): the two high bits of the first byte give the
//! length (1, 2, 4 or 8 bytes), the rest is the value, big-endian.

/// The largest value a variable-length integer holds (2^62 − 1).
pub const MAX: u64 = (1 << 62) - 1;

/// Reads one integer from the front of `bytes`: its value and length, or `None` when `bytes`
/// ends before the integer does.
pub fn decode(bytes: &[u8]) -> Option<(u64, usize)> {
    let first = *bytes.first()?;
    let len = 1usize << (first >> 6);
    let encoded = bytes.get(..len)?;
    let value = encoded[1..]
        .iter()
        .fold(u64::from(first & 0x3f), |acc, &b| (acc << 8) | u64::from(b));
    Some((value, len))
}

/// How many bytes `value` takes in its shortest encoding.
pub fn encoded_len(value: u64) -> usize {
    match value {
        0..=0x3f => 1,
        0x40..=0x3fff => 2,
        0x4000..=0x3fff_ffff => 4,
        _ => 8,
    }
}

/// Appends `value` in its shortest encoding.
///
/// # Panics
/// When `value` exceeds [`MAX`]: every caller encodes lengths and small constants.
pub fn encode(value: u64, out: &mut Vec<u8>) {
    assert!(
        value <= MAX,
        "a variable-length integer holds at most 2^62 - 1"
    );
    let len = encoded_len(value);
    let prefix = (len.trailing_zeros() as u64) << (len * 8 - 2);
    out.extend_from_slice(&(value | prefix).to_be_bytes()[8 - len..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_rfc_examples_decode() {
        // RFC 9000 appendix A.1.
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, value) in cases {
            assert_eq!(decode(bytes), Some((value, bytes.len())));
        }
        // A non-shortest encoding is still valid.
        assert_eq!(decode(&[0x40, 0x25]), Some((37, 2)));
    }

    #[test]
    fn a_truncated_integer_is_incomplete() {
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[0x9d, 0x7f, 0x3e]), None);
    }

    proptest! {
        #[test]
        fn encoding_round_trips_in_the_shortest_form(value in 0..=MAX) {
            let mut out = Vec::new();
            encode(value, &mut out);
            prop_assert_eq!(out.len(), encoded_len(value));
            prop_assert_eq!(decode(&out), Some((value, out.len())));
        }
    }
}
