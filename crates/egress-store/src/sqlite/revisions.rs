//! Configuration revisions: the whole document as TOML, numbered 1, 2, 3, … without gaps.

use egress_model::Config;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};

use super::{audit, sql_int};
use crate::document::{checked_document, parse_document};
use crate::error::StoreError;
use crate::model::{AuditAction, Revision, RevisionMeta, Timestamp};

/// Which revision a write must follow.
#[derive(Debug, Clone, Copy)]
pub(super) enum Base {
    /// Exactly this one (`None` = an empty store), or the write is a conflict.
    Expected(Option<u64>),
    /// Whatever is latest.
    Latest,
}

/// One write of a configuration, with what goes into the revision and the audit log.
#[derive(Debug)]
pub(super) struct Change<'a> {
    pub base: Base,
    pub action: AuditAction,
    pub author: &'a str,
    pub comment: &'a str,
}

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
    let number: u64 = row.get(0).map_err(sql_error)?;
    let created_at: String = row.get(1).map_err(sql_error)?;
    let created_at = Timestamp::parse(&created_at).map_err(|e| StoreError::Corrupt {
        revision: number,
        detail: format!("created_at {created_at:?} is not an RFC 3339 time: {e}"),
    })?;
    Ok(RevisionMeta {
        number,
        created_at,
        author: row.get(2).map_err(sql_error)?,
        comment: row.get(3).map_err(sql_error)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{example, invalid, TempDir};
    use crate::{ConfigStore, SqliteStore};

    fn store(tmp: &TempDir) -> SqliteStore {
        SqliteStore::open(tmp.path()).expect("open")
    }

    #[test]
    fn an_empty_store_has_no_revisions() {
        let tmp = TempDir::new("rev-empty");
        let s = store(&tmp);
        assert_eq!(s.latest().expect("latest"), None);
        assert_eq!(s.get(1).expect("get"), None);
        assert!(s.list(10).expect("list").is_empty());
    }

    #[test]
    fn commits_read_back_by_latest_get_and_list() {
        let tmp = TempDir::new("rev-roundtrip");
        let s = store(&tmp);
        let first = s.commit(None, &example(1), "alice", "first").expect("1");
        let second = s.commit(Some(1), &example(2), "bob", "second").expect("2");
        assert_eq!((first.number, second.number), (1, 2));

        assert_eq!(s.latest().expect("latest"), Some(second.clone()));
        let got = s.get(1).expect("get").expect("revision 1 exists");
        assert_eq!(got, first);
        assert_eq!(got.config, example(1));
        assert_eq!(
            (got.author.as_str(), got.comment.as_str()),
            ("alice", "first")
        );
        assert_eq!(s.get(3).expect("get"), None);
        assert_eq!(s.get(u64::MAX).expect("get"), None);

        let listed = s.list(10).expect("list");
        assert_eq!(listed, vec![second.meta(), first.meta()]);
        assert_eq!(s.list(1).expect("list"), vec![second.meta()]);

        // And from a fresh connection: nothing lived only in memory.
        drop(s);
        assert_eq!(store(&tmp).latest().expect("latest"), Some(second));
    }

    #[test]
    fn the_first_revision_must_expect_none() {
        let tmp = TempDir::new("rev-first");
        let s = store(&tmp);
        let err = s
            .commit(Some(0), &example(1), "a", "c")
            .expect_err("no revision 0");
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    expected: Some(0),
                    current: None
                }
            ),
            "{err:?}"
        );
        s.commit(None, &example(1), "a", "c").expect("first");
        let err = s
            .commit(None, &example(2), "a", "c")
            .expect_err("not empty");
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    expected: None,
                    current: Some(1)
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_stale_expected_revision_is_a_conflict_and_stores_nothing() {
        let tmp = TempDir::new("rev-conflict");
        let s = store(&tmp);
        s.commit(None, &example(1), "a", "1").expect("1");
        s.commit(Some(1), &example(2), "a", "2").expect("2");
        let err = s
            .commit(Some(1), &example(3), "b", "stale")
            .expect_err("stale");
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    expected: Some(1),
                    current: Some(2)
                }
            ),
            "{err:?}"
        );
        assert_eq!(s.list(10).expect("list").len(), 2);
        assert_eq!(s.audit(10).expect("audit").len(), 2);
    }

    #[test]
    fn an_invalid_configuration_is_refused_and_nothing_is_stored() {
        let tmp = TempDir::new("rev-invalid");
        let s = store(&tmp);
        let err = s.commit(None, &invalid(), "a", "bad").expect_err("invalid");
        let StoreError::Invalid(errors) = &err else {
            panic!("expected Invalid, got {err:?}");
        };
        assert!(
            errors
                .iter()
                .any(|e| e.path == "deployment.max_connections_per_destination"),
            "{errors:?}"
        );
        assert!(err.to_string().contains("nothing was stored"), "{err}");
        assert!(s.import(&invalid(), "a", "bad.toml").is_err());
        assert_eq!(s.latest().expect("latest"), None);
        assert!(s.audit(10).expect("audit").is_empty());
    }

    #[test]
    fn import_follows_whatever_is_latest() {
        let tmp = TempDir::new("rev-import");
        let s = store(&tmp);
        s.commit(None, &example(1), "a", "1").expect("1");
        let imported = s
            .import(&example(7), "cli", "/etc/egressd.toml")
            .expect("import");
        assert_eq!(imported.number, 2);
        assert_eq!(imported.comment, "/etc/egressd.toml");
        assert_eq!(
            s.latest().expect("latest").map(|r| r.config),
            Some(example(7))
        );
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
