//! Why a store operation failed.

use std::path::PathBuf;

use egress_model::ValidationError;

use crate::model::TokenId;

/// Everything a store operation can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database file could not be opened or set up.
    #[error("cannot open the store {}: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The database cannot use a write-ahead log, so commits would not be durable and fast.
    #[error(
        "the store {} cannot use a WAL journal (it stayed in {mode} mode); \
         put the data directory on a local file system",
        path.display()
    )]
    JournalMode {
        /// The database file.
        path: PathBuf,
        /// The journal mode SQLite kept.
        mode: String,
    },
    /// A schema migration failed; the database is left at the version before it.
    #[error("cannot migrate the store to schema version {version}: {source}")]
    Migrate {
        /// The version being applied.
        version: u32,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The database was written by a newer egressd.
    #[error(
        "the store {store} has schema version {found}, newer than the {supported} this egressd \
         knows; run a newer egressd"
    )]
    TooNew {
        /// The database file, or the PostgreSQL URL without its password.
        store: String,
        /// The version in the file.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// A PostgreSQL URL this build cannot use.
    #[error("cannot use the store URL {url}: {reason}")]
    UnsupportedUrl {
        /// The URL without its password.
        url: String,
        /// Why.
        reason: String,
    },
    /// The PostgreSQL server could not be reached or refused the connection.
    #[error("cannot connect to the store {store}: {source}")]
    Connect {
        /// The URL without its password.
        store: String,
        /// What PostgreSQL (or the network) said.
        source: postgres::Error,
    },
    /// A PostgreSQL schema migration failed; the database is left at the version before it.
    #[error("cannot migrate the store {store} to schema version {version}: {source}")]
    PostgresMigrate {
        /// The URL without its password.
        store: String,
        /// The version being applied (0: the migration bookkeeping itself).
        version: u32,
        /// What PostgreSQL said.
        source: postgres::Error,
    },
    /// A PostgreSQL query failed (or the connection broke during it).
    #[error("store operation `{operation}` failed: {source}")]
    Postgres {
        /// What was being done, such as `commit revision`.
        operation: &'static str,
        /// What PostgreSQL said.
        source: postgres::Error,
    },
    /// A query failed.
    #[error("store operation `{operation}` failed: {source}")]
    Sql {
        /// What was being done, such as `commit revision`.
        operation: &'static str,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The writer based its change on a revision that is no longer the latest.
    #[error(
        "revision conflict: the change is based on {} but the latest is {}; \
         read the latest revision and apply the change again",
        describe_revision(*expected),
        describe_revision(*current)
    )]
    Conflict {
        /// The revision the writer based its change on (`None` = it expected an empty store).
        expected: Option<u64>,
        /// The latest revision in the store (`None` = the store is empty).
        current: Option<u64>,
    },
    /// The configuration breaks validation rules; nothing was stored.
    #[error("{}", render_invalid(.0))]
    Invalid(Vec<ValidationError>),
    /// The configuration does not read back equal from its TOML text; nothing was stored.
    #[error(
        "the configuration does not read back the same from TOML, nothing was stored: {detail}"
    )]
    NotRepresentable {
        /// How it differs or why it does not parse.
        detail: String,
    },
    /// A stored revision no longer reads as a valid configuration.
    #[error("revision {revision} in the store does not load: {detail}")]
    Corrupt {
        /// The revision number.
        revision: u64,
        /// What is wrong with it.
        detail: String,
    },
    /// A stored audit entry or token has a value the store never writes.
    #[error("{table} row {id} in the store is damaged: {detail}")]
    CorruptRecord {
        /// The table.
        table: &'static str,
        /// The row id.
        id: i64,
        /// What is wrong with it.
        detail: String,
    },
    /// No token has this id.
    #[error("no admin token has id {id}")]
    UnknownToken {
        /// The id asked for.
        id: TokenId,
    },
    /// A token name that cannot be used.
    #[error("token name {name:?} is refused: {reason}")]
    BadTokenName {
        /// The name given.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The operating system could not provide randomness for a token secret.
    #[error("cannot draw a random token secret: {0}")]
    Random(getrandom::Error),
}

fn describe_revision(number: Option<u64>) -> String {
    match number {
        Some(n) => format!("revision {n}"),
        None => "no revision (an empty store)".to_string(),
    }
}

fn render_invalid(errors: &[ValidationError]) -> String {
    let mut out = format!(
        "configuration is invalid ({} problems), nothing was stored:",
        errors.len()
    );
    for e in errors {
        out.push_str("\n  ");
        out.push_str(&e.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_names_both_revisions() {
        let e = StoreError::Conflict {
            expected: Some(3),
            current: Some(5),
        };
        assert!(e.to_string().starts_with(
            "revision conflict: the change is based on revision 3 but the latest is revision 5"
        ));
        let first = StoreError::Conflict {
            expected: None,
            current: Some(1),
        };
        assert!(first
            .to_string()
            .contains("based on no revision (an empty store)"));
    }
}
