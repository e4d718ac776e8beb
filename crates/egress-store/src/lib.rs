//! Durable store of the control plane: numbered configuration revisions, an audit log of every
//! change, and hashed admin tokens.
//!
//! Callers hold a `dyn` [`ConfigStore`] and never name a backend past start-up: [`SqliteStore`]
//! (embedded, the default) or [`PostgresStore`] (one database shared by several control-plane
//! replicas). Methods block on disk or network I/O (a commit waits for its fsync); async
//! callers run them on a blocking thread (`tokio::task::spawn_blocking`).

mod document;
mod error;
#[cfg(test)]
mod fixture;
mod model;
mod postgres;
mod rows;
mod secret;
mod sqlite;
mod token_rules;

use std::time::{Duration, Instant};

use egress_model::Config;

pub use self::postgres::PostgresStore;
pub use self::sqlite::SqliteStore;
pub use error::StoreError;
pub use model::{
    AuditAction, AuditEntry, Revision, RevisionMeta, Timestamp, TokenId, TokenInfo, TokenScope,
};

/// How often the default [`ConfigStore::wait_for_newer`] asks the backend for its latest
/// revision.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Configuration revisions, the audit log and admin tokens, behind one interface for every
/// backend.
///
/// Revision numbers start at 1 and grow by one with each write, without gaps, however many
/// writers share the backend. Every successful write (commit, import, token create and revoke)
/// appends an audit entry in the same transaction; refused writes leave no trace.
pub trait ConfigStore: Send + Sync {
    /// The newest revision, or `None` when nothing was ever committed.
    fn latest(&self) -> Result<Option<Revision>, StoreError>;

    /// Revision `number`, or `None` when there is no such revision.
    fn get(&self, number: u64) -> Result<Option<Revision>, StoreError>;

    /// Up to `limit` revisions without their documents, newest first.
    fn list(&self, limit: usize) -> Result<Vec<RevisionMeta>, StoreError>;

    /// Stores `config` as the next revision if the latest revision is still `expected` (the one
    /// the writer based its change on; `None` = the store must be empty), and audits it as
    /// [`AuditAction::ConfigCommit`] with `comment` as detail.
    ///
    /// Refuses with [`StoreError::Conflict`] when another write came first and with
    /// [`StoreError::Invalid`] when `config` breaks a validation rule; nothing is stored then.
    fn commit(
        &self,
        expected: Option<u64>,
        config: &Config,
        author: &str,
        comment: &str,
    ) -> Result<Revision, StoreError>;

    /// Stores `config` as the next revision whatever the latest is (the imported document
    /// replaces the whole configuration), audited as [`AuditAction::ConfigImport`] with `source`
    /// (such as the file name) as comment and detail. Refuses an invalid `config`.
    fn import(&self, config: &Config, author: &str, source: &str) -> Result<Revision, StoreError>;

    /// Up to `limit` audit entries, newest first.
    fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;

    /// Creates an admin token; returns it and its secret, which is shown this once and kept only
    /// as a hash. `name` must be unique among tokens that are not revoked.
    fn create_token(
        &self,
        name: &str,
        scope: TokenScope,
        actor: &str,
    ) -> Result<(TokenInfo, String), StoreError>;

    /// The token whose secret this is, or `None` when no token that is not revoked has it.
    fn verify_token(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError>;

    /// Every token, revoked ones included, oldest first.
    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Revokes token `id` so that its secret no longer verifies; revoking a revoked token
    /// returns it unchanged and writes no audit entry.
    fn revoke_token(&self, id: TokenId, actor: &str) -> Result<TokenInfo, StoreError>;

    /// Blocks until a revision newer than `after` exists, then returns the newest revision
    /// number known; returns `None` when `timeout` passed first. Returns at once when such a
    /// revision already exists, so a caller that loops on its own latest number misses none,
    /// whichever process (replica, CLI) wrote it.
    ///
    /// Backends that can be told of commits wake as soon as one commits (PostgreSQL: LISTEN on
    /// the `egressd_revisions` channel, which every commit notifies with its number); the
    /// default asks [`ConfigStore::list`] every [`POLL_INTERVAL`] (SQLite). A spurious early
    /// return is never a number that does not exist; the caller reads the revision itself.
    fn wait_for_newer(&self, after: u64, timeout: Duration) -> Result<Option<u64>, StoreError> {
        let deadline = Instant::now() + timeout;
        loop {
            let latest = self.list(1)?.first().map_or(0, |meta| meta.number);
            if latest > after {
                return Ok(Some(latest));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(left.min(POLL_INTERVAL));
        }
    }
}
