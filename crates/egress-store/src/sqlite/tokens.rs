//! Admin tokens: name, scope and the SHA-256 of the secret; never the secret itself.

use egress_model::AccountId;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};

use super::{audit, sql_int};
use crate::error::StoreError;
use crate::model::{AuditAction, Timestamp, TokenId, TokenInfo, TokenScope};
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
    let id: i64 = row.get(0).map_err(sql_error)?;
    let corrupt = |detail| StoreError::CorruptRecord {
        table: "tokens",
        id,
        detail,
    };
    let time = |column: &str, text: String| {
        Timestamp::parse(&text)
            .map_err(|e| corrupt(format!("{column} {text:?} is not an RFC 3339 time: {e}")))
    };
    let created_at = time("created_at", row.get(4).map_err(sql_error)?)?;
    let revoked_at = match row.get::<_, Option<String>>(5).map_err(sql_error)? {
        Some(text) => Some(time("revoked_at", text)?),
        None => None,
    };
    Ok(TokenInfo {
        id: TokenId(u64::try_from(id).map_err(|_| corrupt("the id is negative".to_string()))?),
        name: row.get(1).map_err(sql_error)?,
        scope: TokenScope {
            account: row
                .get::<_, Option<String>>(2)
                .map_err(sql_error)?
                .map(AccountId),
            write: row.get(3).map_err(sql_error)?,
        },
        created_at,
        revoked_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::TempDir;
    use crate::{ConfigStore, SqliteStore};

    fn acme_read() -> TokenScope {
        TokenScope {
            account: Some(AccountId("acme".into())),
            write: false,
        }
    }

    #[test]
    fn a_created_token_verifies_until_revoked() {
        let tmp = TempDir::new("tokens");
        let s = SqliteStore::open(tmp.path()).expect("open");
        let (info, secret) = s
            .create_token("acme-ro", acme_read(), "op")
            .expect("create");
        assert_eq!(info.name, "acme-ro");
        assert_eq!(info.scope, acme_read());
        assert_eq!(info.revoked_at, None);

        assert_eq!(s.verify_token(&secret).expect("verify"), Some(info.clone()));
        assert_eq!(s.list_tokens().expect("list"), vec![info.clone()]);

        let revoked = s.revoke_token(info.id, "op").expect("revoke");
        assert!(revoked.revoked_at.is_some());
        assert_eq!(s.verify_token(&secret).expect("verify"), None);
        assert_eq!(s.list_tokens().expect("list"), vec![revoked.clone()]);

        // Revoking again changes nothing and is not audited again.
        assert_eq!(s.revoke_token(info.id, "op").expect("again"), revoked);
        assert_eq!(s.audit(10).expect("audit").len(), 2);
    }

    #[test]
    fn a_wrong_secret_verifies_as_nothing() {
        let tmp = TempDir::new("tokens-wrong");
        let s = SqliteStore::open(tmp.path()).expect("open");
        let (_, secret) = s.create_token("t", acme_read(), "op").expect("create");
        let mut wrong = secret.clone();
        wrong.pop();
        wrong.push(if secret.ends_with('0') { '1' } else { '0' });
        for candidate in [wrong.as_str(), "", "egt_", &secret[..secret.len() - 1]] {
            assert_eq!(
                s.verify_token(candidate).expect("verify"),
                None,
                "{candidate:?}"
            );
        }
    }

    #[test]
    fn names_must_be_usable_and_unique_among_live_tokens() {
        let tmp = TempDir::new("tokens-names");
        let s = SqliteStore::open(tmp.path()).expect("open");
        for bad in ["", "  ", "a\nb", &"x".repeat(101)] {
            let err = s
                .create_token(bad, acme_read(), "op")
                .expect_err("bad name");
            assert!(matches!(err, StoreError::BadTokenName { .. }), "{err:?}");
        }
        let (first, _) = s.create_token("ci", acme_read(), "op").expect("create");
        let err = s.create_token("ci", acme_read(), "op").expect_err("taken");
        assert!(err.to_string().contains("already has this name"), "{err}");
        s.revoke_token(first.id, "op").expect("revoke");
        let (second, _) = s.create_token("ci", acme_read(), "op").expect("reuse");
        assert_ne!(first.id, second.id);
    }

    #[test]
    fn revoking_an_unknown_token_names_it() {
        let tmp = TempDir::new("tokens-unknown");
        let s = SqliteStore::open(tmp.path()).expect("open");
        let err = s.revoke_token(TokenId(42), "op").expect_err("unknown");
        assert_eq!(err.to_string(), "no admin token has id 42");
    }
}
