//! Revision, audit and token rows as both backends read them, and the checks that turn them into model
//! values: a row that breaks them is reported as corrupt, with its table and id.

use egress_model::AccountId;

use crate::error::StoreError;
use crate::model::{
    AuditAction, AuditEntry, RevisionMeta, Timestamp, TokenId, TokenInfo, TokenScope,
};

/// A `tokens` row, columns in the order both backends select them.
pub(crate) struct TokenRow {
    pub id: i64,
    pub name: String,
    pub account: Option<String>,
    pub write: bool,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// An `audit` row, columns in the order both backends select them.
pub(crate) struct AuditRow {
    pub id: i64,
    pub time: String,
    pub actor: String,
    pub action: String,
    pub revision: Option<i64>,
    pub detail: String,
}

fn corrupt(table: &'static str, id: i64) -> impl Fn(String) -> StoreError {
    move |detail| StoreError::CorruptRecord { table, id, detail }
}

fn time(
    column: &str,
    text: &str,
    corrupt: &impl Fn(String) -> StoreError,
) -> Result<Timestamp, StoreError> {
    Timestamp::parse(text)
        .map_err(|e| corrupt(format!("{column} {text:?} is not an RFC 3339 time: {e}")))
}

fn unsigned(
    what: &str,
    n: i64,
    corrupt: &impl Fn(String) -> StoreError,
) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| corrupt(format!("the {what} is negative")))
}

impl TokenRow {
    pub(crate) fn into_info(self) -> Result<TokenInfo, StoreError> {
        let corrupt = corrupt("tokens", self.id);
        Ok(TokenInfo {
            id: TokenId(unsigned("id", self.id, &corrupt)?),
            name: self.name,
            scope: TokenScope {
                account: self.account.map(AccountId),
                write: self.write,
            },
            created_at: time("created_at", &self.created_at, &corrupt)?,
            revoked_at: self
                .revoked_at
                .map(|text| time("revoked_at", &text, &corrupt))
                .transpose()?,
        })
    }
}

impl AuditRow {
    pub(crate) fn into_entry(self) -> Result<AuditEntry, StoreError> {
        let corrupt = corrupt("audit", self.id);
        let action = AuditAction::from_code(&self.action).ok_or_else(|| {
            corrupt(format!(
                "action {:?} is not one the store writes",
                self.action
            ))
        })?;
        Ok(AuditEntry {
            id: unsigned("id", self.id, &corrupt)?,
            time: time("time", &self.time, &corrupt)?,
            actor: self.actor,
            action,
            revision: self
                .revision
                .map(|n| unsigned("revision", n, &corrupt))
                .transpose()?,
            detail: self.detail,
        })
    }
}

/// The metadata columns of a `revisions` row, in the order both backends select them.
pub(crate) struct RevisionMetaRow {
    pub number: i64,
    pub created_at: String,
    pub author: String,
    pub comment: String,
}

impl RevisionMetaRow {
    pub(crate) fn into_meta(self) -> Result<RevisionMeta, StoreError> {
        let number = unsigned("number", self.number, &corrupt("revisions", self.number))?;
        let created_at = Timestamp::parse(&self.created_at).map_err(|e| StoreError::Corrupt {
            revision: number,
            detail: format!(
                "created_at {:?} is not an RFC 3339 time: {e}",
                self.created_at
            ),
        })?;
        Ok(RevisionMeta {
            number,
            created_at,
            author: self.author,
            comment: self.comment,
        })
    }
}
