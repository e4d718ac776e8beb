//! Does each geolocation database place each egress address where the configuration says?

use std::net::IpAddr;

use egress_model::Config;
use serde::{Deserialize, Serialize};

use crate::database::{DatabaseRecord, GeoDatabase};
use crate::egress::{egress_prefixes, EgressRole};
use crate::manifest::ManifestLocation;

/// The result of checking every egress address against every database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GeoCheckReport {
    /// The databases consulted.
    pub databases: Vec<DatabaseInfo>,
    /// One entry per egress address.
    pub addresses: Vec<AddressCheck>,
    /// Answers that disagree with the configuration (address × database).
    pub mismatches: usize,
    /// Answers a database could not decode.
    pub errors: usize,
}

/// A database consulted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatabaseInfo {
    /// Its name (the path it was opened from).
    pub name: String,
    /// `database_type` from its metadata.
    pub database_type: String,
    /// When it was built, seconds since the Unix epoch.
    pub build_epoch: u64,
}

/// One egress address: where it should be and what each database says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddressCheck {
    /// The address looked up: a dedicated IPv4, or the first address of a /64 or default range.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub address: IpAddr,
    /// The egress prefix it stands for.
    pub prefix: String,
    /// `dedicated` or `default`.
    pub role: String,
    /// The account of a dedicated IP.
    pub account: Option<String>,
    /// Where the configuration places it.
    pub expected: ManifestLocation,
    /// One answer per database, in the order given.
    pub answers: Vec<DatabaseAnswer>,
    /// No database disagrees (and none failed to answer).
    pub matches: bool,
}

/// How a database's answer compares with the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Country agrees, and city too where the database has one.
    Match,
    /// Country, or a city the database has, differs.
    Mismatch,
    /// The database does not list the address (common for newly assigned addresses).
    NotListed,
    /// The database could not decode its record.
    Error,
}

/// What one database says about one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatabaseAnswer {
    /// The database.
    pub database: String,
    /// The comparison.
    pub verdict: Verdict,
    /// The database's network holding the address.
    pub network: Option<String>,
    /// Its country.
    pub country: Option<String>,
    /// Its region (ISO 3166-2).
    pub region: Option<String>,
    /// Its city.
    pub city: Option<String>,
    /// The fields that differ: `country`, `city`.
    pub mismatched: Vec<String>,
    /// Why it could not answer (verdict `error`).
    pub error: Option<String>,
}

/// Looks up every egress address of `config` (dedicated IPv4s, dedicated /64s, default ranges;
/// BYOIP included) in every database and compares country, and city where the database has
/// cities.
pub fn check(config: &Config, databases: &[GeoDatabase]) -> GeoCheckReport {
    let mut addresses = Vec::new();
    for egress in egress_prefixes(config) {
        let location = egress.location;
        let expected = ManifestLocation {
            code: location.code.to_string(),
            city: location.city.clone(),
            region: location.region.clone(),
            country: location.country.clone(),
        };
        let address = egress.prefix.network();
        let answers: Vec<DatabaseAnswer> = databases
            .iter()
            .map(|db| answer(db, address, &expected))
            .collect();
        let (role, account) = match &egress.role {
            EgressRole::Dedicated { account, .. } => ("dedicated", Some(account.clone())),
            EgressRole::Default => ("default", None),
        };
        addresses.push(AddressCheck {
            address,
            prefix: egress.prefix.to_string(),
            role: role.to_string(),
            account,
            expected,
            matches: answers
                .iter()
                .all(|a| matches!(a.verdict, Verdict::Match | Verdict::NotListed)),
            answers,
        });
    }
    let count = |verdict: Verdict| {
        addresses
            .iter()
            .flat_map(|a| &a.answers)
            .filter(|a| a.verdict == verdict)
            .count()
    };
    GeoCheckReport {
        databases: databases
            .iter()
            .map(|db| DatabaseInfo {
                name: db.name().to_string(),
                database_type: db.database_type().to_string(),
                build_epoch: db.build_epoch(),
            })
            .collect(),
        mismatches: count(Verdict::Mismatch),
        errors: count(Verdict::Error),
        addresses,
    }
}

fn answer(db: &GeoDatabase, address: IpAddr, expected: &ManifestLocation) -> DatabaseAnswer {
    let record = match db.lookup(address) {
        Ok(Some(record)) => record,
        Ok(None) => return blank(db, Verdict::NotListed, None),
        Err(e) => return blank(db, Verdict::Error, Some(e.to_string())),
    };
    let mismatched = compare(&record, expected);
    DatabaseAnswer {
        database: db.name().to_string(),
        verdict: if mismatched.is_empty() {
            Verdict::Match
        } else {
            Verdict::Mismatch
        },
        network: record.network,
        country: record.country,
        region: record.region,
        city: record.city,
        mismatched,
        error: None,
    }
}

/// The fields that differ. A record without a country differs in country; a record without a
/// city (a country-level database) is not compared on city.
fn compare(record: &DatabaseRecord, expected: &ManifestLocation) -> Vec<String> {
    let same = |said: &str, want: &str| said.trim().eq_ignore_ascii_case(want.trim());
    let mut differ = Vec::new();
    if !record
        .country
        .as_deref()
        .is_some_and(|c| same(c, &expected.country))
    {
        differ.push("country".to_string());
    }
    if record
        .city
        .as_deref()
        .is_some_and(|c| !same(c, &expected.city))
    {
        differ.push("city".to_string());
    }
    differ
}

fn blank(db: &GeoDatabase, verdict: Verdict, error: Option<String>) -> DatabaseAnswer {
    DatabaseAnswer {
        database: db.name().to_string(),
        verdict,
        network: None,
        country: None,
        region: None,
        city: None,
        mismatched: Vec::new(),
        error,
    }
}

impl GeoCheckReport {
    /// Whether every answer agrees or does not list the address.
    pub fn all_match(&self) -> bool {
        self.mismatches == 0 && self.errors == 0
    }
}
