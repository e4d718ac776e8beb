//! `egressd geofeed` and `egressd geo check`: where egress addresses geolocate, as published
//! and as geolocation databases see it.

use std::path::PathBuf;
use std::process::ExitCode;

use egress_geo::{GeoCheckReport, GeoDatabase, Verdict};

use crate::cli::{ConfigArgs, GeoCommand};
use crate::cmd_store::config_from;

/// Exit status of `geo check` when a database disagrees with the configuration (errors exit 2,
/// like every command).
pub const EXIT_MISMATCH: u8 = 3;

/// `egressd geofeed`: the RFC 8805 feed on standard output.
pub fn geofeed(args: &ConfigArgs, store: Option<&str>) -> Result<ExitCode, String> {
    let (config, _) = config_from(args.config.as_deref(), args.data_dir.as_deref(), store)?;
    print!("{}", egress_geo::geofeed(&config).to_csv());
    Ok(ExitCode::SUCCESS)
}

pub fn run(command: GeoCommand, store: Option<&str>) -> Result<ExitCode, String> {
    match command {
        GeoCommand::Check { mmdb, source, json } => check(&mmdb, &source, json, store),
    }
}

/// Opens every database, failing on the first that is not one.
pub fn open_databases(paths: &[PathBuf]) -> Result<Vec<GeoDatabase>, String> {
    paths
        .iter()
        .map(|p| GeoDatabase::open(p).map_err(|e| e.to_string()))
        .collect()
}

fn check(
    paths: &[PathBuf],
    source: &ConfigArgs,
    json: bool,
    store: Option<&str>,
) -> Result<ExitCode, String> {
    let (config, _) = config_from(source.config.as_deref(), source.data_dir.as_deref(), store)?;
    let databases = open_databases(paths)?;
    let report = egress_geo::check(&config, &databases);
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print_report(&report);
    }
    Ok(if report.mismatches > 0 {
        ExitCode::from(EXIT_MISMATCH)
    } else if report.errors > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_report(report: &GeoCheckReport) {
    for db in &report.databases {
        println!(
            "database {} ({}, built at {}s since the epoch)",
            db.name, db.database_type, db.build_epoch
        );
    }
    for address in &report.addresses {
        let e = &address.expected;
        println!(
            "{} ({} {}{}): expected {} {} {} {}",
            address.address,
            address.role,
            address.prefix,
            address
                .account
                .as_deref()
                .map(|a| format!(", account {a}"))
                .unwrap_or_default(),
            e.code,
            e.country,
            e.region,
            e.city
        );
        for answer in &address.answers {
            let said = |v: &Option<String>| v.as_deref().unwrap_or("-").to_string();
            let verdict = match answer.verdict {
                Verdict::Match => "match".to_string(),
                Verdict::Mismatch => format!("MISMATCH {}", answer.mismatched.join(",")),
                Verdict::NotListed => "not listed".to_string(),
                Verdict::Error => format!("ERROR {}", said(&answer.error)),
            };
            println!(
                "  {}: {verdict}: {} {} {}",
                answer.database,
                said(&answer.country),
                said(&answer.region),
                said(&answer.city)
            );
        }
    }
    println!(
        "{} addresses, {} databases: {} mismatches, {} errors",
        report.addresses.len(),
        report.databases.len(),
        report.mismatches,
        report.errors
    );
}
