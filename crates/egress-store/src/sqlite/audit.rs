//! The audit log: one row per change, written in the transaction of the change itself.

use rusqlite::{Connection, Row};

use super::sql_int;
use crate::error::StoreError;
use crate::model::{AuditAction, AuditEntry, Timestamp};

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
pub(super) fn append(conn: &Connection, entry: &NewEntry<'_>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit (time, actor, action, revision, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        (
            entry.time.to_string(),
            entry.actor,
            entry.action.code(),
            entry.revision.map(sql_int),
            entry.detail,
        ),
    )
    .map_err(|source| StoreError::Sql {
        operation: "append audit entry",
        source,
    })?;
    Ok(())
}

pub(super) fn list(conn: &Connection, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
    let sql_error = |source| StoreError::Sql {
        operation: "list audit entries",
        source,
    };
    let mut stmt = conn
        .prepare(
            "SELECT id, time, actor, action, revision, detail FROM audit
             ORDER BY id DESC LIMIT ?1",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map([sql_int(limit)], |row| Ok(read_entry(row)))
        .map_err(sql_error)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(sql_error)??);
    }
    Ok(out)
}

fn read_entry(row: &Row<'_>) -> Result<AuditEntry, StoreError> {
    let sql_error = |source| StoreError::Sql {
        operation: "read audit entry",
        source,
    };
    let id: i64 = row.get(0).map_err(sql_error)?;
    let corrupt = |detail| StoreError::CorruptRecord {
        table: "audit",
        id,
        detail,
    };
    let time: String = row.get(1).map_err(sql_error)?;
    let time = Timestamp::parse(&time)
        .map_err(|e| corrupt(format!("time {time:?} is not an RFC 3339 time: {e}")))?;
    let action: String = row.get(3).map_err(sql_error)?;
    let action = AuditAction::from_code(&action)
        .ok_or_else(|| corrupt(format!("action {action:?} is not one the store writes")))?;
    Ok(AuditEntry {
        id: u64::try_from(id).map_err(|_| corrupt("the id is negative".to_string()))?,
        time,
        actor: row.get(2).map_err(sql_error)?,
        action,
        revision: row.get(4).map_err(sql_error)?,
        detail: row.get(5).map_err(sql_error)?,
    })
}
