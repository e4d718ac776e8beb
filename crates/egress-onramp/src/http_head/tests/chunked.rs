use proptest::prelude::*;

use super::*;

/// Feeds `input` in pieces cut at `cuts` and returns the total consumed and whether it ended.
fn feed_split(input: &[u8], cuts: &[usize]) -> Result<(usize, bool), HeadError> {
    let mut decoder = ChunkedDecoder::new();
    let mut total = 0;
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(start, input.len());
        let progress = decoder.feed(&input[start..cut])?;
        total += progress.consumed;
        if progress.done {
            return Ok((total, true));
        }
        assert_eq!(
            progress.consumed,
            cut - start,
            "all bytes consumed before the end"
        );
        start = cut;
    }
    Ok((total, false))
}

#[test]
fn a_body_with_extensions_and_trailers_ends_where_it_should() {
    let body = b"4;name=\"va l\"\r\nWiki\r\n5 ;x\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n";
    let mut input = body.to_vec();
    input.extend_from_slice(b"GET http://next/ HTTP/1.1\r\n");
    let mut decoder = ChunkedDecoder::new();
    let progress = decoder.feed(&input).expect("valid");
    assert_eq!(
        progress,
        ChunkedProgress {
            consumed: body.len(),
            done: true
        }
    );
    assert!(decoder.is_done());
    assert_eq!(
        decoder.feed(b"more").expect("done"),
        ChunkedProgress {
            consumed: 0,
            done: true
        }
    );
}

#[test]
fn every_split_point_gives_the_same_end() {
    let body = b"a\r\n0123456789\r\n1;e=1\r\nx\r\n0\r\nT: v\r\n\r\n";
    for cut in 0..=body.len() {
        assert_eq!(
            feed_split(body, &[cut]),
            Ok((body.len(), true)),
            "cut at {cut}"
        );
    }
    let one_by_one: Vec<usize> = (0..body.len()).collect();
    assert_eq!(feed_split(body, &one_by_one), Ok((body.len(), true)));
}

#[test]
fn an_unfinished_body_is_not_done() {
    let mut decoder = ChunkedDecoder::new();
    let progress = decoder.feed(b"5\r\nabc").expect("valid so far");
    assert_eq!(
        progress,
        ChunkedProgress {
            consumed: 6,
            done: false
        }
    );
    assert!(!decoder.is_done());
}

#[test]
fn big_chunk_sizes_are_tracked_without_overflow() {
    let mut decoder = ChunkedDecoder::new();
    let progress = decoder.feed(b"ffffffffffffffff\r\n").expect("max size");
    assert!(!progress.done);
    let err = ChunkedDecoder::new()
        .feed(b"10000000000000000\r\n")
        .expect_err("overflow");
    assert!(matches!(err, HeadError::BadChunk(_)));
}

#[test]
fn malformed_framing_is_refused() {
    let cases: &[&[u8]] = &[
        b"\r\n",   // no size
        b"g\r\n",  // not hex
        b" 5\r\n", // leading space
        b"-5\r\n",
        b"5\nabcde\r\n", // bare LF after size
        b"5\r\nabcdeX",  // data not followed by CRLF
        b"5\r\nabcde\n",
        b"5;a\x01\r\n",              // control byte in extension
        b"5 6\r\n",                  // digits after whitespace
        b"0\r\nBad Name: x\r\n\r\n", // space in trailer name
        b"0\r\nX: a\x00b\r\n\r\n",   // NUL in trailer
        b"0\r\nX: a\n",              // bare LF in trailer
        b"0\r\n\rX",                 // CR not followed by LF at the end
    ];
    for case in cases {
        let err = ChunkedDecoder::new()
            .feed(case)
            .expect_err(&String::from_utf8_lossy(case));
        assert!(matches!(err, HeadError::BadChunk(_)), "{case:?}: {err:?}");
        assert_eq!(err.status(), 400);
        assert_eq!(err.reason(), "bad_chunked_body");
    }
}

#[test]
fn the_decoder_stays_failed_after_an_error() {
    let mut decoder = ChunkedDecoder::new();
    assert!(decoder.feed(b"zz").is_err());
    assert!(decoder.feed(b"0\r\n\r\n").is_err());
}

#[test]
fn endless_size_lines_and_trailers_are_cut_off() {
    let mut line = b"1;".to_vec();
    line.resize(5000, b'a');
    assert!(ChunkedDecoder::new().feed(&line).is_err());
    let mut trailers = b"0\r\n".to_vec();
    for _ in 0..2000 {
        trailers.extend_from_slice(b"X-Trailer: 1234\r\n");
    }
    assert!(ChunkedDecoder::new().feed(&trailers).is_err());
}

/// The obvious encoder: the decoder must find the end of whatever it produces.
fn encode(chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in chunks.iter().filter(|c| !c.is_empty()) {
        out.extend_from_slice(format!("{:X}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

proptest! {
    #[test]
    fn encoded_bodies_end_exactly_at_their_length(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6),
        cuts in proptest::collection::vec(0usize..300, 0..8),
        tail in proptest::collection::vec(any::<u8>(), 0..10),
    ) {
        let body = encode(&chunks);
        let mut input = body.clone();
        input.extend_from_slice(&tail);
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(feed_split(&input, &cuts), Ok((body.len(), true)));
    }
}
