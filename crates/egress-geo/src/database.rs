//! A MaxMind-format geolocation database and what it says about one address.

use std::net::IpAddr;
use std::path::Path;

use maxminddb::{path, Reader};

use crate::error::GeoError;

/// An opened MaxMind DB file (GeoIP2/GeoLite2 City or Country, or any database with the same
/// record shape).
#[derive(Debug)]
pub struct GeoDatabase {
    name: String,
    reader: Reader<Vec<u8>>,
}

/// What a database says about one address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatabaseRecord {
    /// The database's network holding the address.
    pub network: Option<String>,
    /// `country.iso_code`.
    pub country: Option<String>,
    /// The first subdivision as ISO 3166-2 (`US-CA`), when the database has one.
    pub region: Option<String>,
    /// `city.names.en`, when the database has cities.
    pub city: Option<String>,
}

impl GeoDatabase {
    /// Reads the database at `path`; it is named by the path in reports.
    pub fn open(path: &Path) -> Result<GeoDatabase, GeoError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| GeoError::Open {
            database: name.clone(),
            message: e.to_string(),
        })?;
        GeoDatabase::from_bytes(&name, bytes)
    }

    /// A database from its bytes, named `name` in reports.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<GeoDatabase, GeoError> {
        let reader = Reader::from_source(bytes).map_err(|e| GeoError::Open {
            database: name.to_string(),
            message: e.to_string(),
        })?;
        Ok(GeoDatabase {
            name: name.to_string(),
            reader,
        })
    }

    /// The name reports use (the path it was opened from).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `database_type` of its metadata, such as `GeoLite2-City`.
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// When it was built, in seconds since the Unix epoch.
    pub fn build_epoch(&self) -> u64 {
        self.reader.metadata().build_epoch
    }

    /// What the database says about `address`; `None` when it does not list it.
    pub fn lookup(&self, address: IpAddr) -> Result<Option<DatabaseRecord>, GeoError> {
        let failed = |e: maxminddb::MaxMindDbError| GeoError::Lookup {
            database: self.name.clone(),
            address,
            message: e.to_string(),
        };
        let result = self.reader.lookup(address).map_err(failed)?;
        if !result.has_data() {
            return Ok(None);
        }
        let text = |path: &[maxminddb::PathElement<'_>]| {
            result.decode_path::<String>(path).map_err(failed)
        };
        let country = text(&path!["country", "iso_code"])?;
        let subdivision = text(&path!["subdivisions", 0, "iso_code"])?;
        let region = match (&country, subdivision) {
            (Some(country), Some(sub)) => Some(format!("{country}-{sub}")),
            (None, Some(sub)) => Some(sub),
            (_, None) => None,
        };
        Ok(Some(DatabaseRecord {
            network: result.network().ok().map(|n| n.to_string()),
            country,
            region,
            city: text(&path!["city", "names", "en"])?,
        }))
    }
}
