//! What can go wrong in this crate, with the input it concerns.

/// An error of geolocation work.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// A database file could not be read or is not a MaxMind DB.
    #[error("{database}: not a readable MaxMind DB file: {message}")]
    Open {
        /// The file or name given.
        database: String,
        /// What the reader said.
        message: String,
    },
    /// A database answered a lookup with data it cannot decode.
    #[error("{database}: cannot decode the record of {address}: {message}")]
    Lookup {
        /// The database.
        database: String,
        /// The address looked up.
        address: std::net::IpAddr,
        /// What the reader said.
        message: String,
    },
    /// The manifest of an account the configuration does not have.
    #[error("no account has id {account:?}")]
    UnknownAccount {
        /// The id asked for.
        account: String,
    },
    /// A dedicated IP whose location the configuration does not declare (a configuration that
    /// passed validation never has one).
    #[error("dedicated IP {ipv4} names location {location:?}, which is not declared")]
    UnknownLocation {
        /// The IPv4 of the dedicated IP.
        ipv4: std::net::Ipv4Addr,
        /// The code it names.
        location: String,
    },
}
