//! The fleet backend: one PostgreSQL database shared by every control-plane replica.

mod audit;
mod migrate;
mod notify;
mod revisions;
mod tokens;

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use egress_model::Config;
use postgres::config::{Host, SslMode};
use postgres::{Client, NoTls};

use crate::document::Change;
use crate::error::StoreError;
use crate::model::{AuditEntry, Revision, RevisionMeta, TokenId, TokenInfo, TokenScope};
use crate::ConfigStore;

/// How long opening a connection may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Key of the transaction-level advisory lock every write takes first: writes from all replicas
/// queue on it, so revision numbers and audit ids follow commit order. (ASCII "egressd" + 1.)
const WRITE_LOCK: i64 = 0x6567_7265_7373_6401;

/// A [`ConfigStore`] in a PostgreSQL database, for several control-plane replicas at once.
///
/// Every write is one transaction that first takes an advisory lock (so writers from all
/// replicas queue), reads the latest revision, inserts the next one (the revision number is the
/// primary key: a fork could not commit) with its audit entry, and sends
/// `NOTIFY egressd_revisions, '<number>'`, delivered to listeners when it commits. Commits run
/// with `synchronous_commit = on`: an acknowledged write is on the server's disk.
///
/// The `postgres` client blocks and runs its own small runtime: call every method, and
/// [`PostgresStore::open`], from a blocking thread (`tokio::task::spawn_blocking`), never from
/// async code directly.
pub struct PostgresStore {
    config: postgres::Config,
    /// The URL without its password, for messages.
    describe: String,
    // One connection for reads and writes, reopened when it breaks; a second one for waiting on
    // notifications, so that a waiter never holds up a write.
    conn: Mutex<Option<Client>>,
    listener: Mutex<Option<Client>>,
}

impl PostgresStore {
    /// Opens the store at `url` (`postgres://user:password@host:port/database?…`, or a
    /// `key=value` connection string) and brings its schema up to date. TLS is not built in:
    /// `sslmode` may be `disable` or `prefer` (both connect without TLS).
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let mut config: postgres::Config =
            url.parse()
                .map_err(|e: postgres::Error| StoreError::UnsupportedUrl {
                    url: redact_unparsed(url),
                    reason: e.to_string(),
                })?;
        let describe = describe(&config);
        match config.get_ssl_mode() {
            SslMode::Disable | SslMode::Prefer => {}
            _ => {
                return Err(StoreError::UnsupportedUrl {
                    url: describe,
                    reason: "this egressd connects to PostgreSQL without TLS; use sslmode=disable \
                             over a unix socket or a private network, or a local TLS tunnel"
                        .to_string(),
                })
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("egressd");
        }
        let store = PostgresStore {
            config,
            describe,
            conn: Mutex::new(None),
            listener: Mutex::new(None),
        };
        store.with_conn(|c| migrate::run(c, &store.describe))?;
        Ok(store)
    }

    /// The URL without its password, such as `postgres://egressd@db.internal:5432/egressd`.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Runs `f` on the read-write connection, reconnecting first when the last one broke.
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection(&self.conn)?;
        f(&mut conn)
    }

    fn connection<'a>(
        &self,
        slot: &'a Mutex<Option<Client>>,
    ) -> Result<Connection<'a>, StoreError> {
        // A panic while holding the lock dropped its transaction, which rolled back.
        let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.as_ref().is_none_or(Client::is_closed) {
            let client = self
                .config
                .connect(NoTls)
                .map_err(|source| StoreError::Connect {
                    store: self.describe.clone(),
                    source,
                })?;
            *guard = Some(client);
        }
        Ok(Connection(guard))
    }
}

/// A connected client, held exclusively.
struct Connection<'a>(MutexGuard<'a, Option<Client>>);

impl std::ops::Deref for Connection<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0
            .as_ref()
            .expect("connection() stores a client before handing it out")
    }
}

impl std::ops::DerefMut for Connection<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .expect("connection() stores a client before handing it out")
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Each client owns a current-thread runtime, and tokio refuses to drop a runtime on a
        // thread that runs async code: the last `Arc` of a store may well go away there.
        let clients = (
            self.conn
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
            self.listener
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        if clients.0.is_none() && clients.1.is_none() {
            return;
        }
        if let Ok(closer) = std::thread::Builder::new()
            .name("egress-store-close".into())
            .spawn(move || drop(clients))
        {
            let _ = closer.join();
        }
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("store", &self.describe)
            .finish_non_exhaustive()
    }
}

/// `postgres://user@host:port/database`, never with the password.
fn describe(config: &postgres::Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(dir) => dir.display().to_string(),
            };
            match ports.get(i).or(ports.first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let database = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{}/{database}", hosts.join(","))
}

/// A URL that does not parse, with anything between `:` and `@` of its authority hidden.
fn redact_unparsed(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a postgres:// URL)".to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

impl ConfigStore for PostgresStore {
    fn latest(&self) -> Result<Option<Revision>, StoreError> {
        self.with_conn(revisions::latest)
    }

    fn get(&self, number: u64) -> Result<Option<Revision>, StoreError> {
        self.with_conn(|c| revisions::get(c, number))
    }

    fn list(&self, limit: usize) -> Result<Vec<RevisionMeta>, StoreError> {
        self.with_conn(|c| revisions::list(c, limit))
    }

    fn commit(
        &self,
        expected: Option<u64>,
        config: &Config,
        author: &str,
        comment: &str,
    ) -> Result<Revision, StoreError> {
        let change = Change::commit(expected, author, comment);
        self.with_conn(|c| revisions::commit(c, config, change))
    }

    fn import(&self, config: &Config, author: &str, source: &str) -> Result<Revision, StoreError> {
        let change = Change::import(author, source);
        self.with_conn(|c| revisions::commit(c, config, change))
    }

    fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.with_conn(|c| audit::list(c, limit))
    }

    fn create_token(
        &self,
        name: &str,
        scope: TokenScope,
        actor: &str,
    ) -> Result<(TokenInfo, String), StoreError> {
        self.with_conn(|c| tokens::create(c, name, scope, actor))
    }

    fn verify_token(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
        self.with_conn(|c| tokens::verify(c, secret))
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.with_conn(tokens::list)
    }

    fn revoke_token(&self, id: TokenId, actor: &str) -> Result<TokenInfo, StoreError> {
        self.with_conn(|c| tokens::revoke(c, id, actor))
    }

    fn wait_for_newer(&self, after: u64, timeout: Duration) -> Result<Option<u64>, StoreError> {
        let mut listener = self.connection(&self.listener)?;
        notify::wait_for_newer(&mut listener, after, timeout)
    }
}

/// Starts a write: the transaction, queued behind every other writer, durable on commit.
fn begin_write<'a>(
    client: &'a mut Client,
    operation: &'static str,
) -> Result<postgres::Transaction<'a>, StoreError> {
    let sql_error = |source| StoreError::Postgres { operation, source };
    let mut tx = client.transaction().map_err(sql_error)?;
    tx.batch_execute(&format!(
        "SET LOCAL synchronous_commit = on; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
    ))
    .map_err(sql_error)?;
    Ok(tx)
}

/// Converts a count or number to PostgreSQL's BIGINT, saturating (no store holds 2^63 rows).
fn sql_int(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_never_carry_the_password() {
        let config: postgres::Config = "postgres://egressd:s3cret@db.internal:6432/fleet"
            .parse()
            .expect("a valid URL");
        assert_eq!(
            describe(&config),
            "postgres://egressd@db.internal:6432/fleet"
        );
        let socket: postgres::Config = "postgresql://app@%2Frun%2Fpostgresql/egressd"
            .parse()
            .expect("a valid URL");
        assert_eq!(
            describe(&socket),
            "postgres://app@/run/postgresql:5432/egressd"
        );
        assert_eq!(
            redact_unparsed("postgres://u:s3cret@h/d?sslmode=bogus"),
            "postgres://u:***@h/d?sslmode=bogus"
        );
    }

    #[test]
    fn tls_modes_that_need_tls_are_refused_before_connecting() {
        let err = PostgresStore::open("postgres://u:pw@127.0.0.1:1/d?sslmode=require")
            .expect_err("TLS is not built in");
        assert!(
            matches!(&err, StoreError::UnsupportedUrl { url, .. } if !url.contains("pw")),
            "{err:?}"
        );
        assert!(err.to_string().contains("sslmode=disable"), "{err}");
    }

    #[test]
    fn an_unreachable_server_is_a_connect_error_naming_it() {
        // Port 1 on loopback: nothing listens there, so the refusal is immediate.
        let err = PostgresStore::open("postgres://u:pw@127.0.0.1:1/d?connect_timeout=2")
            .expect_err("nothing listens");
        assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("postgres://u@127.0.0.1:1/d"), "{text}");
        assert!(!text.contains("pw"), "{text}");
    }
}
