//! Configuration revisions: the whole document as TOML, numbered 1, 2, 3, … without gaps.

use egress_model::Config;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};

use super::{audit, sql_int};
use crate::document::{checked_document, parse_document, Base, Change};
use crate::error::StoreError;
use crate::model::{Revision, RevisionMeta, Timestamp};
use crate::rows::RevisionMetaRow;

const COLUMNS: &str = "number, created_at, author, comment";

pub(super) fn latest(conn: &Connection) -> Result<Option<Revision>, StoreError> {
    let sql = format!("SELECT {COLUMNS}, document FROM revisions ORDER BY number DESC LIMIT 1");
    read_one(conn, &sql, [], "read latest revision")
}

pub(super) fn get(conn: &Connection, number: u64) -> Result<Option<Revision>, StoreError> {
    let Ok(key) = i64::try_from(number) else {
        return Ok(None);
    };
    let sql = format!("SELECT {COLUMNS}, document FROM revisions WHERE number = ?1");
    read_one(conn, &sql, [key], "read revision")
}

pub(super) fn list(conn: &Connection, limit: usize) -> Result<Vec<RevisionMeta>, StoreError> {
    let sql_error = |source| StoreError::Sql {
        operation: "list revisions",
        source,
    };
    let sql = format!("SELECT {COLUMNS} FROM revisions ORDER BY number DESC LIMIT ?1");
    let mut stmt = conn.prepare(&sql).map_err(sql_error)?;
    let rows = stmt
        .query_map([sql_int(limit)], |row| Ok(read_meta(row)))
        .map_err(sql_error)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(sql_error)??);
    }
    Ok(out)
}

/// Validates `config` and stores it as the revision after the latest, with its audit entry, in
/// one transaction.
pub(super) fn commit(
    conn: &mut Connection,
    config: &Config,
    change: Change<'_>,
) -> Result<Revision, StoreError> {
    let document = checked_document(config)?;
    let sql_error = |source| StoreError::Sql {
        operation: "commit revision",
        source,
    };
    // IMMEDIATE takes the write lock before reading the latest number, so concurrent writers
    // (threads or processes) queue here and numbers never fork.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let current: Option<u64> = tx
        .query_row("SELECT MAX(number) FROM revisions", [], |row| {
            row.get::<_, Option<u64>>(0)
        })
        .map_err(sql_error)?;
    if let Base::Expected(expected) = change.base {
        if expected != current {
            return Err(StoreError::Conflict { expected, current });
        }
    }
    let number = current.map_or(1, |n| n + 1);
    let created_at = Timestamp::now();
    tx.execute(
        "INSERT INTO revisions (number, document, author, created_at, comment)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        (
            sql_int(number),
            &document,
            change.author,
            created_at.to_string(),
            change.comment,
        ),
    )
    .map_err(sql_error)?;
    audit::append(
        &tx,
        &audit::NewEntry {
            time: created_at,
            actor: change.author,
            action: change.action,
            revision: Some(number),
            detail: change.comment,
        },
    )?;
    tx.commit().map_err(sql_error)?;
    Ok(Revision {
        number,
        created_at,
        author: change.author.to_string(),
        comment: change.comment.to_string(),
        config: config.clone(),
    })
}

fn read_one<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    operation: &'static str,
) -> Result<Option<Revision>, StoreError> {
    let found = conn
        .query_row(sql, params, |row| {
            Ok(read_meta(row).map(|meta| (meta, row.get::<_, String>(4))))
        })
        .optional()
        .map_err(|source| StoreError::Sql { operation, source })?;
    let Some(read) = found else {
        return Ok(None);
    };
    let (meta, document) = read?;
    let document = document.map_err(|source| StoreError::Sql { operation, source })?;
    let config = parse_document(meta.number, &document)?;
    Ok(Some(Revision {
        number: meta.number,
        created_at: meta.created_at,
        author: meta.author,
        comment: meta.comment,
        config,
    }))
}

/// The metadata columns of a row, or why they do not read.
fn read_meta(row: &Row<'_>) -> Result<RevisionMeta, StoreError> {
    let sql_error = |source| StoreError::Sql {
        operation: "read revision",
        source,
    };
    RevisionMetaRow {
        number: row.get(0).map_err(sql_error)?,
        created_at: row.get(1).map_err(sql_error)?,
        author: row.get(2).map_err(sql_error)?,
        comment: row.get(3).map_err(sql_error)?,
    }
    .into_meta()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{example, invalid, TempDir};
    // The behaviour shared with PostgreSQL is tested on both in
    // tests/both_backends_keep_the_store_contract.rs.
    use crate::{ConfigStore, SqliteStore};

    fn store(tmp: &TempDir) -> SqliteStore {
        SqliteStore::open(tmp.path()).expect("open")
    }

    #[test]
    fn a_stored_document_that_no_longer_loads_is_reported_with_its_number() {
        let tmp = TempDir::new("rev-corrupt");
        let s = store(&tmp);
        s.commit(None, &example(1), "a", "1").expect("1");
        s.conn()
            .execute(
                "UPDATE revisions SET document = ?1 WHERE number = 1",
                [invalid().to_toml()],
            )
            .expect("damage");
        let err = s.latest().expect_err("corrupt");
        assert!(
            matches!(&err, StoreError::Corrupt { revision: 1, detail }
                if detail.contains("max_connections_per_destination")),
            "{err:?}"
        );
        assert!(err
            .to_string()
            .starts_with("revision 1 in the store does not load"));
        assert!(matches!(
            s.get(1),
            Err(StoreError::Corrupt { revision: 1, .. })
        ));
        // The metadata still lists, so an operator can see what is there.
        assert_eq!(s.list(10).expect("list").len(), 1);
    }
}
