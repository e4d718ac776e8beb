//! Versioned schema migrations, applied on open in one transaction that holds an advisory lock,
//! so replicas opening a new database at once apply each migration exactly once.

use postgres::Client;

use crate::error::StoreError;
use crate::model::Timestamp;

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only; never edit one
/// that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: revisions, audit log, admin tokens (timestamps as RFC 3339 text, as in SQLite).
    "CREATE TABLE revisions (
         number     BIGINT PRIMARY KEY CHECK (number >= 1),
         document   TEXT NOT NULL,
         author     TEXT NOT NULL,
         created_at TEXT NOT NULL,
         comment    TEXT NOT NULL
     );
     CREATE TABLE audit (
         id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         time     TEXT NOT NULL,
         actor    TEXT NOT NULL,
         action   TEXT NOT NULL,
         revision BIGINT REFERENCES revisions (number),
         detail   TEXT NOT NULL
     );
     CREATE TABLE tokens (
         id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         name       TEXT NOT NULL,
         hash       BYTEA NOT NULL UNIQUE CHECK (octet_length(hash) = 32),
         account    TEXT,
         write      BOOLEAN NOT NULL,
         created_at TEXT NOT NULL,
         revoked_at TEXT
     );
     CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at IS NULL;",
];

/// The schema version this build writes.
pub(crate) const LATEST: u32 = MIGRATIONS.len() as u32;

/// Key of the advisory lock migrations hold (ASCII "egressd" + 2); writes use another.
const MIGRATE_LOCK: i64 = 0x6567_7265_7373_6402;

/// Applies every migration the database lacks; returns the version it is at afterwards.
pub(super) fn run(client: &mut Client, store: &str) -> Result<u32, StoreError> {
    let setup_error = |source| StoreError::PostgresMigrate {
        store: store.to_string(),
        version: 0,
        source,
    };
    let mut tx = client.transaction().map_err(setup_error)?;
    // The lock comes before anything else, even creating the bookkeeping table: two
    // `CREATE TABLE IF NOT EXISTS` at once can both miss the table and one then fails.
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({MIGRATE_LOCK});
         CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at TEXT NOT NULL
         );"
    ))
    .map_err(setup_error)?;
    let current: Option<i32> = tx
        .query_one("SELECT MAX(version) FROM schema_migrations", &[])
        .and_then(|row| row.try_get(0))
        .map_err(setup_error)?;
    let current = u32::try_from(current.unwrap_or(0)).unwrap_or(0);
    if current > LATEST {
        return Err(StoreError::TooNew {
            store: store.to_string(),
            found: current,
            supported: LATEST,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = u32::try_from(index + 1).expect("a handful of migrations");
        let migrate_error = |source| StoreError::PostgresMigrate {
            store: store.to_string(),
            version,
            source,
        };
        tx.batch_execute(sql).map_err(migrate_error)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[
                &i32::try_from(version).expect("a handful of migrations"),
                &Timestamp::now().to_string(),
            ],
        )
        .map_err(migrate_error)?;
    }
    // DDL is transactional in PostgreSQL: either every missing migration lands or none does.
    tx.commit().map_err(setup_error)?;
    Ok(LATEST)
}
