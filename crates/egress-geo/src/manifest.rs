//! The egress manifest: what an account's partners put on their allowlists, versioned.

use std::net::Ipv4Addr;

use egress_model::{Config, IpStatus};
use ipnet::Ipv6Net;
use serde::{Deserialize, Serialize};

use crate::error::GeoError;

/// The version of the manifest's schema. A change that removes or renames a field, or changes
/// a field's meaning, increases it; added fields do not.
pub const MANIFEST_VERSION: u32 = 1;

/// An account's dedicated egress addresses and where they geolocate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EgressManifest {
    /// Schema version of this document ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// The account.
    pub account: String,
    /// The configuration revision it was built from (0 for a file read outside the store).
    pub revision: u64,
    /// Every dedicated IP of the account, in configuration order.
    pub dedicated_ips: Vec<ManifestEntry>,
}

/// One dedicated IP as partners see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManifestEntry {
    /// The IPv4 address connections come from.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Ipv4))]
    pub ipv4: Ipv4Addr,
    /// The IPv6 /64 connections come from (any address inside it).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ipv6: Ipv6Net,
    /// Where both geolocate.
    pub location: ManifestLocation,
    /// `active`, or `draining` (still in use, about to be released).
    pub status: IpStatus,
}

/// A location, as partners see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManifestLocation {
    /// Short code, such as `lax`.
    pub code: String,
    /// City name.
    pub city: String,
    /// ISO 3166-2 subdivision, such as `US-CA`.
    pub region: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
}

/// The manifest of `account` in `config`, which is `revision`.
pub fn manifest(config: &Config, account: &str, revision: u64) -> Result<EgressManifest, GeoError> {
    let found = config
        .accounts
        .iter()
        .find(|a| a.id.0 == account)
        .ok_or_else(|| GeoError::UnknownAccount {
            account: account.to_string(),
        })?;
    let dedicated_ips = found
        .dedicated_ips
        .iter()
        .map(|ip| {
            let location =
                config
                    .location(&ip.location.0)
                    .ok_or_else(|| GeoError::UnknownLocation {
                        ipv4: ip.ipv4,
                        location: ip.location.to_string(),
                    })?;
            Ok(ManifestEntry {
                ipv4: ip.ipv4,
                ipv6: ip.ipv6,
                location: ManifestLocation {
                    code: location.code.to_string(),
                    city: location.city.clone(),
                    region: location.region.clone(),
                    country: location.country.clone(),
                },
                status: ip.status,
            })
        })
        .collect::<Result<_, GeoError>>()?;
    Ok(EgressManifest {
        version: MANIFEST_VERSION,
        account: account.to_string(),
        revision,
        dedicated_ips,
    })
}
