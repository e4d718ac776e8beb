use super::*;
use crate::HostError;

#[test]
fn every_error_maps_to_its_reply_and_close_reason() {
    let cases = [
        (SocksError::BadVersion(4), None, "socks_bad_version"),
        (
            SocksError::NoAcceptableMethod,
            None,
            "socks_no_acceptable_method",
        ),
        (
            SocksError::BadAuthVersion(2),
            None,
            "socks_bad_auth_version",
        ),
        (
            SocksError::BadCredentialsEncoding,
            None,
            "socks_bad_credentials_encoding",
        ),
        (
            SocksError::Malformed("x"),
            Some(Reply::GeneralFailure),
            "socks_malformed",
        ),
        (
            SocksError::BadAddressType(9),
            Some(Reply::AddressTypeNotSupported),
            "socks_address_type_not_supported",
        ),
        (
            SocksError::BadDomain {
                domain: "a..b".into(),
                problem: HostError::EmptyLabel,
            },
            Some(Reply::HostUnreachable),
            "socks_bad_domain",
        ),
        (
            SocksError::CommandNotSupported(9),
            Some(Reply::CommandNotSupported),
            "socks_command_not_supported",
        ),
    ];
    let mut reasons = Vec::new();
    for (error, reply, reason) in cases {
        assert_eq!(
            (error.reply(), error.reason()),
            (reply, reason),
            "{error:?}"
        );
        assert!(!error.to_string().is_empty());
        reasons.push(reason);
    }
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(reasons.len(), 8);
}
