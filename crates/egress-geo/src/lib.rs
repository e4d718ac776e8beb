//! Where egress addresses geolocate, as the operator publishes it and as databases see it.
//!
//! DESIGN rule 6: geolocation follows the dedicated IP's location, never the physical exit.
//! This crate turns a [`Config`](egress_model::Config) into what the outside world reads about
//! that: the RFC 8805 geofeed ([`geofeed`]), an account's egress manifest for its partners
//! ([`manifest`]), and a comparison with what MaxMind-format databases say ([`check`]). It is
//! pure except for [`GeoDatabase::open`], which reads a file.

mod aggregate;
mod check;
mod database;
mod egress;
mod error;
mod geofeed;
mod manifest;

pub use aggregate::aggregate;
pub use check::{check, AddressCheck, DatabaseAnswer, DatabaseInfo, GeoCheckReport, Verdict};
pub use database::{DatabaseRecord, GeoDatabase};
pub use egress::{egress_prefixes, EgressPrefix, EgressRole};
pub use error::GeoError;
pub use geofeed::{geofeed, Geofeed, GeofeedRow, GEOFEED_MEDIA_TYPE};
pub use manifest::{manifest, EgressManifest, ManifestEntry, ManifestLocation, MANIFEST_VERSION};
