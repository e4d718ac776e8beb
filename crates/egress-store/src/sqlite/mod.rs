//! The embedded backend: one SQLite file in the data directory.

mod audit;
mod migrate;
mod revisions;
mod tokens;

use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use egress_model::Config;
use rusqlite::{Connection, ErrorCode};

use crate::document::Change;
use crate::error::StoreError;
use crate::model::{AuditEntry, Revision, RevisionMeta, TokenId, TokenInfo, TokenScope};
use crate::ConfigStore;

/// How long a write waits for another process's write to finish before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`ConfigStore`] in `DATA_DIR/egressd.db`.
///
/// WAL journal with `synchronous = FULL`: a commit that returned has reached the disk and
/// survives `kill -9` and power loss. Several processes may open the same file; their writes
/// serialise on SQLite's write lock.
pub struct SqliteStore {
    path: PathBuf,
    // One connection: the control plane writes rarely, and a write holds it for one fsync.
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Name of the database file inside the data directory.
    pub const FILE_NAME: &'static str = "egressd.db";

    /// Opens the store in `data_dir`, creating the directory (mode 0700) and the database on
    /// first use and bringing its schema up to date.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|source| StoreError::CreateDir {
                path: data_dir.to_path_buf(),
                source,
            })?;
        let path = data_dir.join(Self::FILE_NAME);
        let mut conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        configure(&conn, &path)?;
        migrate::run(&mut conn, &path)?;
        Ok(SqliteStore {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped its transaction, which rolled back.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Durability and integrity settings, checked rather than assumed.
fn configure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let open_error = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    let mode = enable_wal(conn).map_err(open_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::JournalMode {
            path: path.to_path_buf(),
            mode,
        });
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(open_error)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_error)?;
    Ok(())
}

/// Switches to the WAL journal; returns the mode SQLite reports afterwards.
///
/// SQLite does not call the busy handler while changing the journal mode, so processes creating
/// the file at the same moment get SQLITE_BUSY at once: retry within the busy timeout.
fn enable_wal(conn: &Connection) -> rusqlite::Result<String> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            result => return result,
        }
    }
}

impl ConfigStore for SqliteStore {
    fn latest(&self) -> Result<Option<Revision>, StoreError> {
        revisions::latest(&self.conn())
    }

    fn get(&self, number: u64) -> Result<Option<Revision>, StoreError> {
        revisions::get(&self.conn(), number)
    }

    fn list(&self, limit: usize) -> Result<Vec<RevisionMeta>, StoreError> {
        revisions::list(&self.conn(), limit)
    }

    fn commit(
        &self,
        expected: Option<u64>,
        config: &Config,
        author: &str,
        comment: &str,
    ) -> Result<Revision, StoreError> {
        let change = Change::commit(expected, author, comment);
        revisions::commit(&mut self.conn(), config, change)
    }

    fn import(&self, config: &Config, author: &str, source: &str) -> Result<Revision, StoreError> {
        let change = Change::import(author, source);
        revisions::commit(&mut self.conn(), config, change)
    }

    fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        audit::list(&self.conn(), limit)
    }

    fn create_token(
        &self,
        name: &str,
        scope: TokenScope,
        actor: &str,
    ) -> Result<(TokenInfo, String), StoreError> {
        tokens::create(&mut self.conn(), name, scope, actor)
    }

    fn verify_token(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
        tokens::verify(&self.conn(), secret)
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        tokens::list(&self.conn())
    }

    fn revoke_token(&self, id: TokenId, actor: &str) -> Result<TokenInfo, StoreError> {
        tokens::revoke(&mut self.conn(), id, actor)
    }
}

/// Converts a count or number to SQLite's integer, saturating (no store holds 2^63 rows).
fn sql_int(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::fixture::TempDir;

    #[test]
    fn open_creates_a_private_directory_with_durable_settings() {
        let tmp = TempDir::new("open");
        let dir = tmp.path().join("nested/data");
        let store = SqliteStore::open(&dir).expect("open");
        let mode = std::fs::metadata(&dir).expect("dir").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(store.path(), dir.join("egressd.db"));

        let conn = store.conn();
        let pragma = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |row| {
                row.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| format!("{v:?}"))
            .expect("pragma")
        };
        assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
        assert_eq!(pragma("synchronous"), "Integer(2)", "2 = FULL");
        assert_eq!(pragma("foreign_keys"), "Integer(1)");
    }

    #[test]
    fn one_store_is_shared_across_threads_behind_the_trait() {
        let tmp = TempDir::new("shared");
        let store: std::sync::Arc<dyn ConfigStore> =
            std::sync::Arc::new(SqliteStore::open(tmp.path()).expect("open"));
        let writer = std::sync::Arc::clone(&store);
        std::thread::spawn(move || writer.commit(None, &crate::fixture::example(1), "a", "c"))
            .join()
            .expect("thread")
            .expect("commit");
        assert_eq!(store.list(10).expect("list").len(), 1);
    }

    #[test]
    fn open_names_the_directory_it_cannot_create() {
        let tmp = TempDir::new("open-fail");
        let file = tmp.path().join("a-file");
        std::fs::write(&file, b"x").expect("write");
        let err = SqliteStore::open(&file.join("data")).expect_err("parent is a file");
        assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
        assert!(err.to_string().contains("a-file/data"), "{err}");
    }
}
