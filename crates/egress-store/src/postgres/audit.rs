//! The audit log: one row per change, written in the transaction of the change itself.

use postgres::{GenericClient, Row};

use super::sql_int;
use crate::error::StoreError;
use crate::model::{AuditAction, AuditEntry, Timestamp};
use crate::rows::AuditRow;

/// An entry about to be appended.
#[derive(Debug)]
pub(super) struct NewEntry<'a> {
    pub time: Timestamp,
    pub actor: &'a str,
    pub action: AuditAction,
    pub revision: Option<u64>,
    pub detail: &'a str,
}

/// Appends `entry` inside the caller's transaction, so the change and its record commit together.
pub(super) fn append(tx: &mut impl GenericClient, entry: &NewEntry<'_>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit (time, actor, action, revision, detail) VALUES ($1, $2, $3, $4, $5)",
        &[
            &entry.time.to_string(),
            &entry.actor,
            &entry.action.code(),
            &entry.revision.map(sql_int),
            &entry.detail,
        ],
    )
    .map_err(|source| StoreError::Postgres {
        operation: "append audit entry",
        source,
    })?;
    Ok(())
}

pub(super) fn list(
    client: &mut impl GenericClient,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = client
        .query(
            "SELECT id, time, actor, action, revision, detail FROM audit
             ORDER BY id DESC LIMIT $1",
            &[&sql_int(limit)],
        )
        .map_err(|source| StoreError::Postgres {
            operation: "list audit entries",
            source,
        })?;
    rows.iter().map(read_entry).collect()
}

fn read_entry(row: &Row) -> Result<AuditEntry, StoreError> {
    let sql_error = |source| StoreError::Postgres {
        operation: "read audit entry",
        source,
    };
    AuditRow {
        id: row.try_get(0).map_err(sql_error)?,
        time: row.try_get(1).map_err(sql_error)?,
        actor: row.try_get(2).map_err(sql_error)?,
        action: row.try_get(3).map_err(sql_error)?,
        revision: row.try_get(4).map_err(sql_error)?,
        detail: row.try_get(5).map_err(sql_error)?,
    }
    .into_entry()
}
