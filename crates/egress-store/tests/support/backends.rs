//! The two backends behind one face, so that every behavioural test runs against both.

use std::path::PathBuf;
use std::sync::Arc;

use egress_store::{ConfigStore, PostgresStore, SqliteStore, StoreError};

use super::pg_cluster::{shared_cluster, PgCluster};
use super::TempDir;

/// Where one store lives; each [`Backend::open`] is another process's view of it (a replica).
pub trait Backend: Send + Sync {
    /// `sqlite` or `postgres`, for messages.
    fn name(&self) -> &'static str;
    /// What [`open_location`] (and egressd's `--store` / `--data-dir`) takes to open it.
    fn location(&self) -> String;
    /// The schema versions the store recorded, in order.
    fn schema_versions(&self) -> Vec<u32>;

    /// Opens a new store on the same data.
    fn try_open(&self) -> Result<Box<dyn ConfigStore>, StoreError> {
        open_location(&self.location())
    }

    /// Opens a new store on the same data, or panics.
    fn open(&self) -> Box<dyn ConfigStore> {
        self.try_open()
            .unwrap_or_else(|e| panic!("open the {} store: {e}", self.name()))
    }
}

/// Opens a PostgreSQL URL or a SQLite data directory.
pub fn open_location(location: &str) -> Result<Box<dyn ConfigStore>, StoreError> {
    if location.starts_with("postgres://") {
        Ok(Box::new(PostgresStore::open(location)?))
    } else {
        Ok(Box::new(SqliteStore::open(&PathBuf::from(location))?))
    }
}

/// A data directory of its own.
#[derive(Debug)]
pub struct Sqlite {
    dir: TempDir,
}

impl Sqlite {
    pub fn new(label: &str) -> Sqlite {
        Sqlite {
            dir: TempDir::new(label),
        }
    }
}

impl Backend for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn schema_versions(&self) -> Vec<u32> {
        let file = self.dir.path().join("data").join(SqliteStore::FILE_NAME);
        let conn = rusqlite::Connection::open(file).expect("open the database file");
        let mut stmt = conn
            .prepare("SELECT version FROM schema_version ORDER BY version")
            .expect("prepare");
        let rows = stmt.query_map([], |row| row.get(0)).expect("query");
        rows.collect::<Result<_, _>>().expect("rows")
    }
}

/// A database of its own in the test binary's shared cluster.
#[derive(Debug)]
pub struct Postgres {
    pub cluster: Arc<PgCluster>,
    url: String,
}

impl Postgres {
    pub fn new(label: &str) -> Postgres {
        let cluster = shared_cluster();
        let url = cluster.create_database(label);
        Postgres { cluster, url }
    }

    /// A plain client on the store's database, for looking under it.
    pub fn client(&self) -> postgres::Client {
        self.cluster.client_for(&self.url)
    }
}

impl Backend for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn location(&self) -> String {
        self.url.clone()
    }

    fn schema_versions(&self) -> Vec<u32> {
        self.client()
            .query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .expect("read schema_migrations")
            .iter()
            .map(|row| u32::try_from(row.get::<_, i32>(0)).expect("positive versions"))
            .collect()
    }
}

/// Runs each named `fn(&dyn Backend)` once per backend, as tests `NAME::sqlite` and
/// `NAME::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(&crate::support::backends::Sqlite::new(stringify!($name)));
                }

                #[test]
                fn postgres() {
                    super::$name(&crate::support::backends::Postgres::new(stringify!($name)));
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;
