//! Admin tokens: name, scope and the SHA-256 of the secret; never the secret itself.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};

use super::{audit, sql_int};
use crate::error::StoreError;
use crate::model::{AuditAction, Timestamp, TokenId, TokenInfo, TokenScope};
use crate::rows::TokenRow;
use crate::secret;
use crate::token_rules::{check_name, describe};

const COLUMNS: &str = "id, name, account, write, created_at, revoked_at";

pub(super) fn create(
    conn: &mut Connection,
    name: &str,
    scope: TokenScope,
    actor: &str,
) -> Result<(TokenInfo, String), StoreError> {
    check_name(name)?;
    let secret = secret::generate()?;
    let sql_error = |source| StoreError::Sql {
        operation: "create token",
        source,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let taken: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM tokens WHERE name = ?1 AND revoked_at IS NULL)",
            [name],
            |row| row.get(0),
        )
        .map_err(sql_error)?;
    if taken {
        return Err(StoreError::BadTokenName {
            name: name.to_string(),
            reason: "a token that is not revoked already has this name",
        });
    }
    let created_at = Timestamp::now();
    tx.execute(
        "INSERT INTO tokens (name, hash, account, write, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        (
            name,
            secret::hash(&secret).as_slice(),
            scope.account.as_ref().map(|a| a.0.as_str()),
            scope.write,
            created_at.to_string(),
        ),
    )
    .map_err(sql_error)?;
    let id = TokenId(u64::try_from(tx.last_insert_rowid()).expect("token ids start at 1"));
    let info = TokenInfo {
        id,
        name: name.to_string(),
        scope,
        created_at,
        revoked_at: None,
    };
    audit::append(
        &tx,
        &audit::NewEntry {
            time: created_at,
            actor,
            action: AuditAction::TokenCreate,
            revision: None,
            detail: &describe(&info),
        },
    )?;
    tx.commit().map_err(sql_error)?;
    Ok((info, secret))
}

pub(super) fn verify(conn: &Connection, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
    // The secret has 256 random bits, so an indexed lookup by its hash leaks nothing useful
    // through timing.
    let hash = secret::hash(secret);
    let sql = format!("SELECT {COLUMNS} FROM tokens WHERE hash = ?1 AND revoked_at IS NULL");
    conn.query_row(&sql, [hash.as_slice()], |row| Ok(read_token(row)))
        .optional()
        .map_err(|source| StoreError::Sql {
            operation: "verify token",
            source,
        })?
        .transpose()
}

pub(super) fn list(conn: &Connection) -> Result<Vec<TokenInfo>, StoreError> {
    let sql_error = |source| StoreError::Sql {
        operation: "list tokens",
        source,
    };
    let sql = format!("SELECT {COLUMNS} FROM tokens ORDER BY id");
    let mut stmt = conn.prepare(&sql).map_err(sql_error)?;
    let rows = stmt
        .query_map([], |row| Ok(read_token(row)))
        .map_err(sql_error)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(sql_error)??);
    }
    Ok(out)
}

pub(super) fn revoke(
    conn: &mut Connection,
    id: TokenId,
    actor: &str,
) -> Result<TokenInfo, StoreError> {
    let sql_error = |source| StoreError::Sql {
        operation: "revoke token",
        source,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let sql = format!("SELECT {COLUMNS} FROM tokens WHERE id = ?1");
    let mut info = tx
        .query_row(&sql, [sql_int(id.0)], |row| Ok(read_token(row)))
        .optional()
        .map_err(sql_error)?
        .ok_or(StoreError::UnknownToken { id })??;
    if info.revoked_at.is_some() {
        return Ok(info);
    }
    let now = Timestamp::now();
    tx.execute(
        "UPDATE tokens SET revoked_at = ?1 WHERE id = ?2",
        (now.to_string(), sql_int(id.0)),
    )
    .map_err(sql_error)?;
    info.revoked_at = Some(now);
    audit::append(
        &tx,
        &audit::NewEntry {
            time: now,
            actor,
            action: AuditAction::TokenRevoke,
            revision: None,
            detail: &describe(&info),
        },
    )?;
    tx.commit().map_err(sql_error)?;
    Ok(info)
}

fn read_token(row: &Row<'_>) -> Result<TokenInfo, StoreError> {
    let sql_error = |source| StoreError::Sql {
        operation: "read token",
        source,
    };
    TokenRow {
        id: row.get(0).map_err(sql_error)?,
        name: row.get(1).map_err(sql_error)?,
        account: row.get(2).map_err(sql_error)?,
        write: row.get(3).map_err(sql_error)?,
        created_at: row.get(4).map_err(sql_error)?,
        revoked_at: row.get(5).map_err(sql_error)?,
    }
    .into_info()
}
