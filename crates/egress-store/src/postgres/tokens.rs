//! Admin tokens: name, scope and the SHA-256 of the secret; never the secret itself.

use postgres::{Client, Row};

use super::{audit, begin_write, sql_int};
use crate::error::StoreError;
use crate::model::{AuditAction, Timestamp, TokenId, TokenInfo, TokenScope};
use crate::rows::TokenRow;
use crate::secret;
use crate::token_rules::{check_name, describe};

const COLUMNS: &str = "id, name, account, write, created_at, revoked_at";

pub(super) fn create(
    client: &mut Client,
    name: &str,
    scope: TokenScope,
    actor: &str,
) -> Result<(TokenInfo, String), StoreError> {
    check_name(name)?;
    let secret = secret::generate()?;
    let operation = "create token";
    let sql_error = |source| StoreError::Postgres { operation, source };
    let mut tx = begin_write(client, operation)?;
    let taken: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM tokens WHERE name = $1 AND revoked_at IS NULL)",
            &[&name],
        )
        .and_then(|row| row.try_get(0))
        .map_err(sql_error)?;
    if taken {
        return Err(StoreError::BadTokenName {
            name: name.to_string(),
            reason: "a token that is not revoked already has this name",
        });
    }
    let created_at = Timestamp::now();
    let id: i64 = tx
        .query_one(
            "INSERT INTO tokens (name, hash, account, write, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &name,
                &secret::hash(&secret).as_slice(),
                &scope.account.as_ref().map(|a| a.0.as_str()),
                &scope.write,
                &created_at.to_string(),
            ],
        )
        .and_then(|row| row.try_get(0))
        .map_err(sql_error)?;
    let info = TokenInfo {
        id: TokenId(u64::try_from(id).expect("identity columns start at 1")),
        name: name.to_string(),
        scope,
        created_at,
        revoked_at: None,
    };
    audit::append(
        &mut tx,
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

pub(super) fn verify(client: &mut Client, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
    // The secret has 256 random bits, so an indexed lookup by its hash leaks nothing useful
    // through timing.
    let hash = secret::hash(secret);
    let sql = format!("SELECT {COLUMNS} FROM tokens WHERE hash = $1 AND revoked_at IS NULL");
    client
        .query_opt(&sql, &[&hash.as_slice()])
        .map_err(|source| StoreError::Postgres {
            operation: "verify token",
            source,
        })?
        .map(|row| read_token(&row))
        .transpose()
}

pub(super) fn list(client: &mut Client) -> Result<Vec<TokenInfo>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM tokens ORDER BY id");
    let rows = client
        .query(&sql, &[])
        .map_err(|source| StoreError::Postgres {
            operation: "list tokens",
            source,
        })?;
    rows.iter().map(read_token).collect()
}

pub(super) fn revoke(
    client: &mut Client,
    id: TokenId,
    actor: &str,
) -> Result<TokenInfo, StoreError> {
    let operation = "revoke token";
    let sql_error = |source| StoreError::Postgres { operation, source };
    let mut tx = begin_write(client, operation)?;
    let sql = format!("SELECT {COLUMNS} FROM tokens WHERE id = $1");
    let row = tx
        .query_opt(&sql, &[&sql_int(id.0)])
        .map_err(sql_error)?
        .ok_or(StoreError::UnknownToken { id })?;
    let mut info = read_token(&row)?;
    if info.revoked_at.is_some() {
        return Ok(info);
    }
    let now = Timestamp::now();
    tx.execute(
        "UPDATE tokens SET revoked_at = $1 WHERE id = $2",
        &[&now.to_string(), &sql_int(id.0)],
    )
    .map_err(sql_error)?;
    info.revoked_at = Some(now);
    audit::append(
        &mut tx,
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

fn read_token(row: &Row) -> Result<TokenInfo, StoreError> {
    let sql_error = |source| StoreError::Postgres {
        operation: "read token",
        source,
    };
    TokenRow {
        id: row.try_get(0).map_err(sql_error)?,
        name: row.try_get(1).map_err(sql_error)?,
        account: row.try_get(2).map_err(sql_error)?,
        write: row.try_get(3).map_err(sql_error)?,
        created_at: row.try_get(4).map_err(sql_error)?,
        revoked_at: row.try_get(5).map_err(sql_error)?,
    }
    .into_info()
}
