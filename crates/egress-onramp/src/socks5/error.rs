use super::Reply;
use crate::HostError;

/// Why a SOCKS5 message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocksError {
    #[error("SOCKS version {0:#04x} is not 5")]
    BadVersion(u8),
    #[error("client offered no acceptable authentication method")]
    NoAcceptableMethod,
    #[error("username/password sub-negotiation version {0:#04x} is not 1")]
    BadAuthVersion(u8),
    #[error("username or password is not UTF-8")]
    BadCredentialsEncoding,
    #[error("malformed SOCKS message: {0}")]
    Malformed(&'static str),
    #[error("address type {0:#04x} is not supported")]
    BadAddressType(u8),
    #[error("bad domain {domain:?}: {problem}")]
    BadDomain { domain: String, problem: HostError },
    #[error("command {0:#04x} is not supported")]
    CommandNotSupported(u8),
}

impl SocksError {
    /// The reply to send before closing, when the client is at the request stage and can read
    /// one. `None` for version and authentication errors: a peer speaking another version
    /// cannot read a SOCKS5 reply, and a failed sub-negotiation is answered with
    /// [`super::encode_auth_status`]`(false)` instead.
    pub fn reply(&self) -> Option<Reply> {
        match self {
            SocksError::BadVersion(_)
            | SocksError::NoAcceptableMethod
            | SocksError::BadAuthVersion(_)
            | SocksError::BadCredentialsEncoding => None,
            SocksError::Malformed(_) => Some(Reply::GeneralFailure),
            SocksError::BadAddressType(_) => Some(Reply::AddressTypeNotSupported),
            // A name that cannot be valid cannot be resolved either.
            SocksError::BadDomain { .. } => Some(Reply::HostUnreachable),
            SocksError::CommandNotSupported(_) => Some(Reply::CommandNotSupported),
        }
    }

    /// A stable snake_case close reason for the connection log.
    pub fn reason(&self) -> &'static str {
        match self {
            SocksError::BadVersion(_) => "socks_bad_version",
            SocksError::NoAcceptableMethod => "socks_no_acceptable_method",
            SocksError::BadAuthVersion(_) => "socks_bad_auth_version",
            SocksError::BadCredentialsEncoding => "socks_bad_credentials_encoding",
            SocksError::Malformed(_) => "socks_malformed",
            SocksError::BadAddressType(_) => "socks_address_type_not_supported",
            SocksError::BadDomain { .. } => "socks_bad_domain",
            SocksError::CommandNotSupported(_) => "socks_command_not_supported",
        }
    }
}
