//! What the store holds: configuration revisions, audit entries and admin tokens.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use egress_model::{AccountId, Config};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, kept to the millisecond, written as RFC 3339 UTC (`2026-01-02T03:04:05.678Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(SystemTime);

impl Timestamp {
    /// The current time, truncated to the millisecond so that it reads back equal.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }

    /// `time` truncated to the millisecond.
    pub fn from_system_time(time: SystemTime) -> Timestamp {
        let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let millis = Duration::from_millis(
            u64::try_from(since_epoch.as_millis()).expect("milliseconds since 1970 fit in u64"),
        );
        Timestamp(UNIX_EPOCH + millis)
    }

    /// Reads RFC 3339 UTC text.
    pub fn parse(text: &str) -> Result<Timestamp, humantime::TimestampError> {
        humantime::parse_rfc3339(text).map(Timestamp::from_system_time)
    }

    /// The time as a [`SystemTime`].
    pub fn system_time(self) -> SystemTime {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        humantime::format_rfc3339_millis(self.0).fmt(f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Who made a revision, when and why; everything but the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionMeta {
    /// 1, 2, 3, … in commit order, without gaps; the API's ETag.
    pub number: u64,
    /// When it was committed.
    pub created_at: Timestamp,
    /// The actor that committed it (token name, `cli`, …).
    pub author: String,
    /// Why, in the author's words.
    pub comment: String,
}

/// One numbered, complete configuration document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revision {
    /// 1, 2, 3, … in commit order, without gaps; the API's ETag.
    pub number: u64,
    /// When it was committed.
    pub created_at: Timestamp,
    /// The actor that committed it.
    pub author: String,
    /// Why, in the author's words.
    pub comment: String,
    /// The whole configuration as of this revision.
    pub config: Config,
}

impl Revision {
    /// The revision without its document.
    pub fn meta(&self) -> RevisionMeta {
        RevisionMeta {
            number: self.number,
            created_at: self.created_at,
            author: self.author.clone(),
            comment: self.comment.clone(),
        }
    }
}

/// What an audited change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    /// A configuration revision written through [`crate::ConfigStore::commit`].
    #[serde(rename = "config.commit")]
    ConfigCommit,
    /// A configuration revision written through [`crate::ConfigStore::import`].
    #[serde(rename = "config.import")]
    ConfigImport,
    /// An admin token was created.
    #[serde(rename = "token.create")]
    TokenCreate,
    /// An admin token was revoked.
    #[serde(rename = "token.revoke")]
    TokenRevoke,
}

impl AuditAction {
    /// Every action, for parsing and tests.
    pub const ALL: [AuditAction; 4] = [
        AuditAction::ConfigCommit,
        AuditAction::ConfigImport,
        AuditAction::TokenCreate,
        AuditAction::TokenRevoke,
    ];

    /// The stable code used in the database, the API and logs.
    pub fn code(self) -> &'static str {
        match self {
            AuditAction::ConfigCommit => "config.commit",
            AuditAction::ConfigImport => "config.import",
            AuditAction::TokenCreate => "token.create",
            AuditAction::TokenRevoke => "token.revoke",
        }
    }

    /// The action with this code.
    pub fn from_code(code: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.code() == code)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// Increasing with every entry.
    pub id: u64,
    /// When the change was made.
    pub time: Timestamp,
    /// Who made it.
    pub actor: String,
    /// What kind of change it was.
    pub action: AuditAction,
    /// The revision it created, for configuration changes.
    pub revision: Option<u64>,
    /// The comment, the import source or the token concerned.
    pub detail: String,
}

/// Identifier of an admin token; not secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenId(pub u64);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenScope {
    /// The one account it may see and change; `None` = operator-wide.
    pub account: Option<AccountId>,
    /// Whether it may change anything; otherwise read only.
    pub write: bool,
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access = if self.write { "write" } else { "read" };
        match &self.account {
            None => write!(f, "operator {access}"),
            Some(account) => write!(f, "account {account} {access}"),
        }
    }
}

/// An admin token without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInfo {
    /// Its identifier.
    pub id: TokenId,
    /// What the operator called it; the actor name in the audit log.
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked; a revoked token no longer verifies.
    pub revoked_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_reads_back_what_it_writes() {
        let t = Timestamp::now();
        let text = t.to_string();
        assert!(text.ends_with('Z') && text.len() == 24, "{text}");
        assert_eq!(Timestamp::parse(&text).expect("own output parses"), t);
    }

    #[test]
    fn audit_action_codes_round_trip() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::from_code(action.code()), Some(action));
            let json = serde_json::to_string(&action).expect("an action serialises");
            assert_eq!(json, format!("\"{}\"", action.code()));
        }
        assert_eq!(AuditAction::from_code("config.delete"), None);
    }

    #[test]
    fn token_scope_reads_as_a_phrase() {
        let scope = TokenScope {
            account: Some(AccountId("acme".into())),
            write: false,
        };
        assert_eq!(scope.to_string(), "account acme read");
        let operator = TokenScope {
            account: None,
            write: true,
        };
        assert_eq!(operator.to_string(), "operator write");
    }
}
