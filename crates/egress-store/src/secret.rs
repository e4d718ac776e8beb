//! Admin token secrets: drawn from the OS, shown once, kept only as a SHA-256 hash.
//!
//! A secret carries 256 random bits, so a plain SHA-256 is enough: no password stretching is
//! needed against guessing, and verification stays one hash and one indexed lookup.

use sha2::{Digest, Sha256};

use crate::error::StoreError;

/// Marks a string as an egressd admin token, so secret scanners and people recognise it.
const PREFIX: &str = "egt_";

/// A new secret: the prefix and 32 random bytes in lowercase hex.
pub(crate) fn generate() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(StoreError::Random)?;
    let mut secret = String::with_capacity(PREFIX.len() + 2 * bytes.len());
    secret.push_str(PREFIX);
    for b in bytes {
        secret.push(hex_digit(b >> 4));
        secret.push(hex_digit(b & 0x0f));
    }
    Ok(secret)
}

/// What the store keeps of a secret.
pub(crate) fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).expect("a nibble is a hex digit")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_hex_and_differ() {
        let a = generate().expect("randomness");
        let b = generate().expect("randomness");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert!(a.starts_with("egt_"));
        assert!(a[4..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn hash_is_sha256_of_the_text() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let got: String = hash("abc")
            .iter()
            .flat_map(|b| [hex_digit(b >> 4), hex_digit(b & 0x0f)])
            .collect();
        assert_eq!(got, expected);
    }
}
