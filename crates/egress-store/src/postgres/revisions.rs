//! Configuration revisions: the whole document as TOML, numbered 1, 2, 3, … without gaps.

use egress_model::Config;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row};

use super::{audit, begin_write, sql_int};
use crate::document::{checked_document, parse_document, Base, Change};
use crate::error::StoreError;
use crate::model::{Revision, RevisionMeta, Timestamp};
use crate::rows::RevisionMetaRow;

/// Channel of the notification each committed revision sends, its number as payload.
pub(super) const CHANNEL: &str = "egressd_revisions";

const COLUMNS: &str = "number, created_at, author, comment";

pub(super) fn latest(client: &mut Client) -> Result<Option<Revision>, StoreError> {
    let sql = format!("SELECT {COLUMNS}, document FROM revisions ORDER BY number DESC LIMIT 1");
    read_one(client, &sql, &[], "read latest revision")
}

pub(super) fn get(client: &mut Client, number: u64) -> Result<Option<Revision>, StoreError> {
    let Ok(key) = i64::try_from(number) else {
        return Ok(None);
    };
    let sql = format!("SELECT {COLUMNS}, document FROM revisions WHERE number = $1");
    read_one(client, &sql, &[&key], "read revision")
}

pub(super) fn list(client: &mut Client, limit: usize) -> Result<Vec<RevisionMeta>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM revisions ORDER BY number DESC LIMIT $1");
    let rows = client
        .query(&sql, &[&sql_int(limit)])
        .map_err(|source| StoreError::Postgres {
            operation: "list revisions",
            source,
        })?;
    rows.iter().map(read_meta).collect()
}

/// The newest revision number, 0 when there is none.
pub(super) fn latest_number(client: &mut impl GenericClient) -> Result<u64, postgres::Error> {
    let number: Option<i64> = client
        .query_one("SELECT MAX(number) FROM revisions", &[])?
        .try_get(0)?;
    Ok(number.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
}

/// Validates `config` and stores it as the revision after the latest, with its audit entry and
/// its notification, in one transaction.
pub(super) fn commit(
    client: &mut Client,
    config: &Config,
    change: Change<'_>,
) -> Result<Revision, StoreError> {
    let document = checked_document(config)?;
    let operation = "commit revision";
    let sql_error = |source| StoreError::Postgres { operation, source };
    // Queued behind every other writer of every replica, so the latest number read here stays
    // the latest until this transaction ends; the primary key would refuse a fork anyway.
    let mut tx = begin_write(client, operation)?;
    let current = match latest_number(&mut tx).map_err(sql_error)? {
        0 => None,
        n => Some(n),
    };
    if let Base::Expected(expected) = change.base {
        if expected != current {
            return Err(StoreError::Conflict { expected, current });
        }
    }
    let number = current.map_or(1, |n| n + 1);
    let created_at = Timestamp::now();
    tx.execute(
        "INSERT INTO revisions (number, document, author, created_at, comment)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &sql_int(number),
            &document,
            &change.author,
            &created_at.to_string(),
            &change.comment,
        ],
    )
    .map_err(sql_error)?;
    audit::append(
        &mut tx,
        &audit::NewEntry {
            time: created_at,
            actor: change.author,
            action: change.action,
            revision: Some(number),
            detail: change.comment,
        },
    )?;
    // Delivered to every listener when (and only if) the transaction commits.
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &number.to_string()])
        .map_err(sql_error)?;
    tx.commit().map_err(sql_error)?;
    Ok(Revision {
        number,
        created_at,
        author: change.author.to_string(),
        comment: change.comment.to_string(),
        config: config.clone(),
    })
}

fn read_one(
    client: &mut Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    operation: &'static str,
) -> Result<Option<Revision>, StoreError> {
    let sql_error = |source| StoreError::Postgres { operation, source };
    let Some(row) = client.query_opt(sql, params).map_err(sql_error)? else {
        return Ok(None);
    };
    let meta = read_meta(&row)?;
    let document: String = row.try_get(4).map_err(sql_error)?;
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
fn read_meta(row: &Row) -> Result<RevisionMeta, StoreError> {
    let sql_error = |source| StoreError::Postgres {
        operation: "read revision",
        source,
    };
    RevisionMetaRow {
        number: row.try_get(0).map_err(sql_error)?,
        created_at: row.try_get(1).map_err(sql_error)?,
        author: row.try_get(2).map_err(sql_error)?,
        comment: row.try_get(3).map_err(sql_error)?,
    }
    .into_meta()
}
