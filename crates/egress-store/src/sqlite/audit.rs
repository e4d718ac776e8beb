//! The audit log: one row per change, written in the transaction of the change itself.

use rusqlite::{Connection, Row};

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
    AuditRow {
        id: row.get(0).map_err(sql_error)?,
        time: row.get(1).map_err(sql_error)?,
        actor: row.get(2).map_err(sql_error)?,
        action: row.get(3).map_err(sql_error)?,
        revision: row.get(4).map_err(sql_error)?,
        detail: row.get(5).map_err(sql_error)?,
    }
    .into_entry()
}
