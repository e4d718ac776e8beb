//! Versioned schema migrations, applied in order on open, each in its own transaction.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::StoreError;
use crate::model::Timestamp;

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only; never edit one
/// that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: revisions, audit log, admin tokens.
    "CREATE TABLE revisions (
         number     INTEGER PRIMARY KEY CHECK (number >= 1),
         document   TEXT NOT NULL,
         author     TEXT NOT NULL,
         created_at TEXT NOT NULL,
         comment    TEXT NOT NULL
     );
     CREATE TABLE audit (
         id       INTEGER PRIMARY KEY AUTOINCREMENT,
         time     TEXT NOT NULL,
         actor    TEXT NOT NULL,
         action   TEXT NOT NULL,
         revision INTEGER REFERENCES revisions (number),
         detail   TEXT NOT NULL
     );
     CREATE TABLE tokens (
         id         INTEGER PRIMARY KEY AUTOINCREMENT,
         name       TEXT NOT NULL,
         hash       BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
         account    TEXT,
         write      INTEGER NOT NULL CHECK (write IN (0, 1)),
         created_at TEXT NOT NULL,
         revoked_at TEXT
     );
     CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at IS NULL;",
];

/// The schema version this build writes.
pub(super) const LATEST: u32 = MIGRATIONS.len() as u32;

/// Applies every migration the database lacks; returns the version it is at afterwards.
pub(super) fn run(conn: &mut Connection, path: &Path) -> Result<u32, StoreError> {
    let open_error = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    INTEGER PRIMARY KEY,
             applied_at TEXT NOT NULL
         )",
    )
    .map_err(open_error)?;
    loop {
        // IMMEDIATE takes the write lock before reading the version, so two processes opening a
        // new file at once apply each migration exactly once.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(open_error)?;
        let current: u32 = tx
            .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
                row.get::<_, Option<u32>>(0)
            })
            .optional()
            .map_err(open_error)?
            .flatten()
            .unwrap_or(0);
        if current > LATEST {
            return Err(StoreError::TooNew {
                store: path.display().to_string(),
                found: current,
                supported: LATEST,
            });
        }
        let Some(sql) = MIGRATIONS.get(current as usize) else {
            return Ok(current);
        };
        let version = current + 1;
        let migrate_error = |source| StoreError::Migrate { version, source };
        tx.execute_batch(sql).map_err(migrate_error)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
            (version, Timestamp::now().to_string()),
        )
        .map_err(migrate_error)?;
        tx.commit().map_err(migrate_error)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::TempDir;
    use crate::SqliteStore;

    fn versions(path: &Path) -> Vec<u32> {
        let conn = Connection::open(path).expect("open");
        let mut stmt = conn
            .prepare("SELECT version FROM schema_version ORDER BY version")
            .expect("prepare");
        let rows = stmt.query_map([], |row| row.get(0)).expect("query");
        rows.collect::<Result<_, _>>().expect("rows")
    }

    #[test]
    fn a_new_store_is_at_the_latest_version_and_reopening_applies_nothing() {
        let tmp = TempDir::new("migrate");
        let path = SqliteStore::open(tmp.path())
            .expect("open")
            .path()
            .to_path_buf();
        assert_eq!(versions(&path), (1..=LATEST).collect::<Vec<_>>());
        SqliteStore::open(tmp.path()).expect("reopen");
        assert_eq!(versions(&path), (1..=LATEST).collect::<Vec<_>>());
    }

    #[test]
    fn a_store_from_a_newer_egressd_is_refused() {
        let tmp = TempDir::new("migrate-new");
        let path = SqliteStore::open(tmp.path())
            .expect("open")
            .path()
            .to_path_buf();
        Connection::open(&path)
            .expect("open")
            .execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?1, 'x')",
                [LATEST + 1],
            )
            .expect("insert");
        let err = SqliteStore::open(tmp.path()).expect_err("too new");
        assert!(
            matches!(err, StoreError::TooNew { found, supported, .. }
                if found == LATEST + 1 && supported == LATEST),
            "{err:?}"
        );
        assert!(err.to_string().contains("run a newer egressd"), "{err}");
    }
}
