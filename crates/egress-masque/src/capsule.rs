//! Capsules (RFC 9297 §3.2): `Type (i) Length (i) Value (..)` one after another on a request
//! stream's body. A proxy reads the DATAGRAM capsule and skips every other type, as the RFC
//! asks of capsule types it does not know.

use thiserror::Error;

use crate::varint;

/// The DATAGRAM capsule: its value is one HTTP datagram's payload.
pub const DATAGRAM_CAPSULE: u64 = 0x00;

/// The longest capsule value accepted: a context ID and the largest UDP payload. A peer that
/// announces more is broken or hostile; buffering it would let it hold memory without limit.
pub const MAX_VALUE_LEN: u64 = 65_535 + 8;

/// One capsule, borrowing its value from the bytes it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capsule<'a> {
    pub capsule_type: u64,
    pub value: &'a [u8],
}

/// Why a stream of capsules cannot be read further.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CapsuleError {
    #[error("capsule of type {capsule_type:#x} announces {len} bytes, more than the {MAX_VALUE_LEN} accepted")]
    TooLong { capsule_type: u64, len: u64 },
    #[error("the stream ended inside a capsule ({buffered} bytes of it received)")]
    Truncated { buffered: usize },
}

/// Reads the capsule at the front of `bytes`: the capsule and how many bytes it took, or
/// `None` when more bytes are needed.
pub fn parse(bytes: &[u8]) -> Result<Option<(Capsule<'_>, usize)>, CapsuleError> {
    let Some((capsule_type, type_len)) = varint::decode(bytes) else {
        return Ok(None);
    };
    let Some((len, len_len)) = varint::decode(&bytes[type_len..]) else {
        return Ok(None);
    };
    if len > MAX_VALUE_LEN {
        return Err(CapsuleError::TooLong { capsule_type, len });
    }
    let start = type_len + len_len;
    let end = start + len as usize;
    Ok(bytes.get(start..end).map(|value| {
        (
            Capsule {
                capsule_type,
                value,
            },
            end,
        )
    }))
}

/// Appends one capsule.
pub fn encode(capsule_type: u64, value: &[u8], out: &mut Vec<u8>) {
    varint::encode(capsule_type, out);
    varint::encode(value.len() as u64, out);
    out.extend_from_slice(value);
}

/// Splits a body arriving in chunks of any size into capsules.
#[derive(Debug, Default)]
pub struct CapsuleDecoder {
    buf: Vec<u8>,
    /// Where the next capsule starts in `buf`; bytes before it are consumed.
    start: usize,
}

impl CapsuleDecoder {
    /// Adds the next chunk of the body.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole capsule, or `None` until more bytes arrive.
    pub fn next_capsule(&mut self) -> Result<Option<Capsule<'_>>, CapsuleError> {
        match parse(&self.buf[self.start..])? {
            Some((_, used)) => {
                let at = self.start;
                self.start += used;
                let (capsule, _) = parse(&self.buf[at..])?.expect("parsed just above");
                Ok(Some(capsule))
            }
            None => Ok(None),
        }
    }

    /// Checks the body ended between capsules.
    pub fn finish(&self) -> Result<(), CapsuleError> {
        match self.buf.len() - self.start {
            0 => Ok(()),
            buffered => Err(CapsuleError::Truncated { buffered }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn capsules(all: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (t, v) in all {
            encode(*t, v, &mut out);
        }
        out
    }

    #[test]
    fn a_datagram_capsule_reads_back() {
        let bytes = capsules(&[(DATAGRAM_CAPSULE, b"\x00hello".to_vec())]);
        assert_eq!(bytes, b"\x00\x06\x00hello");
        let (capsule, used) = parse(&bytes).expect("valid").expect("whole");
        assert_eq!(used, bytes.len());
        assert_eq!(capsule.capsule_type, DATAGRAM_CAPSULE);
        assert_eq!(capsule.value, b"\x00hello");
    }

    #[test]
    fn a_partial_capsule_waits_for_more() {
        let bytes = capsules(&[(DATAGRAM_CAPSULE, vec![7; 300])]);
        for cut in 0..bytes.len() {
            assert_eq!(parse(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn an_oversized_capsule_is_refused_before_it_is_buffered() {
        let mut bytes = Vec::new();
        varint::encode(0x1234, &mut bytes);
        varint::encode(1 << 40, &mut bytes);
        assert_eq!(
            parse(&bytes),
            Err(CapsuleError::TooLong {
                capsule_type: 0x1234,
                len: 1 << 40
            })
        );
    }

    #[test]
    fn a_body_that_stops_inside_a_capsule_is_truncated() {
        let bytes = capsules(&[(DATAGRAM_CAPSULE, b"\x00abc".to_vec())]);
        let mut decoder = CapsuleDecoder::default();
        decoder.push(&bytes[..3]);
        assert_eq!(decoder.next_capsule(), Ok(None));
        assert_eq!(
            decoder.finish(),
            Err(CapsuleError::Truncated { buffered: 3 })
        );
    }

    proptest! {
        /// The decoder gives the same capsules however the body is cut into chunks.
        #[test]
        fn chunking_does_not_change_the_capsules(
            all in proptest::collection::vec((0u64..100_000, proptest::collection::vec(any::<u8>(), 0..600)), 0..8),
            cuts in proptest::collection::vec(1usize..97, 1..40),
        ) {
            let bytes = capsules(&all);
            let mut decoder = CapsuleDecoder::default();
            let mut seen = Vec::new();
            let mut at = 0;
            let mut cut = cuts.iter().cycle();
            while at < bytes.len() {
                let end = (at + cut.next().expect("cycle")).min(bytes.len());
                decoder.push(&bytes[at..end]);
                at = end;
                while let Some(c) = decoder.next_capsule().expect("valid") {
                    seen.push((c.capsule_type, c.value.to_vec()));
                }
            }
            prop_assert_eq!(decoder.finish(), Ok(()));
            prop_assert_eq!(seen, all);
        }
    }
}
