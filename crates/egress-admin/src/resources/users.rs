//! `/v1/accounts/{id}/users`: users as the API shows them (never their password hash) and as it
//! accepts them (a password to hash, or a ready hash).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use axum::extract::State;
use egress_model::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::resources::{account, account_mut, find, insert, remove, replace};
use crate::state::AppState;
use crate::write::{write, Change, Tagged};

/// A user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserView {
    /// Login name, unique in the account.
    pub name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Groups (declared in the account).
    pub groups: Vec<String>,
    /// Whether the user has proxy credentials.
    pub has_password: bool,
}

impl From<&User> for UserView {
    fn from(u: &User) -> UserView {
        UserView {
            name: u.name.clone(),
            email: u.email.clone(),
            groups: u.groups.clone(),
            has_password: u.password_hash.is_some(),
        }
    }
}

/// A user to create or replace.
///
/// Without `password` or `password_hash` a user keeps the hash it had (so a `UserView` read and
/// sent back changes nothing); `has_password: false` removes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// Login name, unique in the account.
    pub name: String,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Groups (declared in the account).
    #[serde(default)]
    pub groups: Vec<String>,
    /// A new password; the API stores only its argon2id hash.
    #[serde(default)]
    pub password: Option<String>,
    /// A ready argon2 PHC string (as `egressd hash-password` prints).
    #[serde(default)]
    pub password_hash: Option<String>,
    /// `false` removes the password; `true` (or absent) keeps it.
    #[serde(default)]
    pub has_password: Option<bool>,
}

/// What a write does to a user's password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Password {
    Keep { required: bool },
    Clear,
    Set(String),
}

/// A [`UserInput`] whose password is hashed already, ready to meet the user it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserDraft {
    name: String,
    email: Option<String>,
    groups: Vec<String>,
    password: Password,
}

impl UserDraft {
    /// Hashes `input.password` (argon2id, off the reactor) or checks `input.password_hash`.
    pub(crate) async fn prepare(input: UserInput) -> Result<UserDraft, ApiError> {
        let password = match (input.password, input.password_hash, input.has_password) {
            (Some(_), Some(_), _) => {
                return Err(ApiError::bad_request(format!(
                    "user {:?}: send either `password` or `password_hash`, not both",
                    input.name
                )))
            }
            (Some(_), _, Some(false)) | (_, Some(_), Some(false)) => {
                return Err(ApiError::bad_request(format!(
                    "user {:?}: `has_password: false` contradicts the password sent",
                    input.name
                )))
            }
            (Some(plain), None, _) => Password::Set(hash_password(plain).await?),
            (None, Some(hash), _) => {
                PasswordHash::new(&hash).map_err(|e| {
                    ApiError::bad_request(format!(
                        "user {:?}: password_hash is not an argon2 PHC string: {e}",
                        input.name
                    ))
                })?;
                Password::Set(hash)
            }
            (None, None, Some(false)) => Password::Clear,
            (None, None, keep) => Password::Keep {
                required: keep == Some(true),
            },
        };
        Ok(UserDraft {
            name: input.name,
            email: input.email,
            groups: input.groups,
            password,
        })
    }

    /// Whether this draft is for the user called `name`.
    pub(crate) fn is_named(&self, name: &str) -> bool {
        self.name == name
    }

    /// The user to store, given the user it replaces (`None` for a new one).
    pub(crate) fn into_user(self, previous: Option<&User>) -> Result<User, ApiError> {
        let password_hash = match self.password {
            Password::Set(hash) => Some(hash),
            Password::Clear => None,
            Password::Keep { required } => {
                let kept = previous.and_then(|u| u.password_hash.clone());
                if required && kept.is_none() {
                    return Err(ApiError::bad_request(format!(
                        "user {:?} has no password to keep: send `password` or `password_hash`",
                        self.name
                    )));
                }
                kept
            }
        };
        Ok(User {
            name: self.name,
            email: self.email,
            groups: self.groups,
            password_hash,
        })
    }
}

async fn hash_password(plain: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(plain.as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|e| ApiError::internal(format!("password hashing task failed: {e}")))?
    .map_err(|e| ApiError::internal(format!("cannot hash the password: {e}")))
}

/// Lists an account's users.
#[utoipa::path(get, path = "/v1/accounts/{id}/users", tag = "users",
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The users", body = Vec<UserView>)))]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    Params(id): Params<String>,
) -> Result<Tagged<Vec<UserView>>, ApiError> {
    let current = state.current().await?;
    let users = &account(&current.config.config, &id)?.users;
    Ok(Tagged::ok(
        current.revision,
        users.iter().map(UserView::from).collect(),
    ))
}

/// Adds a user to an account.
#[utoipa::path(post, path = "/v1/accounts/{id}/users", tag = "users", request_body = UserInput,
    params(("id" = String, Path, description = "Account id")),
    responses((status = 201, description = "Created", body = UserView)))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    change: Change,
    Params(id): Params<String>,
    Body(input): Body<UserInput>,
) -> Result<Tagged<UserView>, ApiError> {
    let draft = UserDraft::prepare(input).await?;
    let (revision, view) = write(&state, change, move |config| {
        let user = draft.into_user(None)?;
        let view = UserView::from(&user);
        insert(&mut account_mut(config, &id)?.users, user)?;
        Ok(view)
    })
    .await?;
    Ok(Tagged::created(revision, view))
}

/// Returns one user.
#[utoipa::path(get, path = "/v1/accounts/{id}/users/{name}", tag = "users",
    params(("id" = String, Path, description = "Account id"),
           ("name" = String, Path, description = "User name")),
    responses((status = 200, description = "The user", body = UserView)))]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    Params((id, name)): Params<(String, String)>,
) -> Result<Tagged<UserView>, ApiError> {
    let current = state.current().await?;
    let user = find(&account(&current.config.config, &id)?.users, &name)?;
    Ok(Tagged::ok(current.revision, UserView::from(user)))
}

/// Replaces a user; without a password in the body it keeps its password.
#[utoipa::path(put, path = "/v1/accounts/{id}/users/{name}", tag = "users", request_body = UserInput,
    params(("id" = String, Path, description = "Account id"),
           ("name" = String, Path, description = "User name")),
    responses((status = 200, description = "Replaced", body = UserView)))]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    change: Change,
    Params((id, name)): Params<(String, String)>,
    Body(input): Body<UserInput>,
) -> Result<Tagged<UserView>, ApiError> {
    let draft = UserDraft::prepare(input).await?;
    let (revision, view) = write(&state, change, move |config| {
        let users = &mut account_mut(config, &id)?.users;
        let user = draft.into_user(Some(find(users, &name)?))?;
        let view = UserView::from(&user);
        replace(users, &name, user)?;
        Ok(view)
    })
    .await?;
    Ok(Tagged::ok(revision, view))
}

/// Removes a user.
#[utoipa::path(delete, path = "/v1/accounts/{id}/users/{name}", tag = "users",
    params(("id" = String, Path, description = "Account id"),
           ("name" = String, Path, description = "User name")),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    change: Change,
    Params((id, name)): Params<(String, String)>,
) -> Result<Tagged<()>, ApiError> {
    let (revision, _) = write(&state, change, move |config| {
        remove(&mut account_mut(config, &id)?.users, &name).map(drop)
    })
    .await?;
    Ok(Tagged::deleted(revision))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str) -> UserInput {
        UserInput {
            name: name.into(),
            email: None,
            groups: Vec::new(),
            password: None,
            password_hash: None,
            has_password: None,
        }
    }

    fn with_hash(hash: Option<&str>) -> User {
        User {
            name: "alice".into(),
            email: None,
            groups: Vec::new(),
            password_hash: hash.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn a_password_is_stored_as_an_argon2id_hash() {
        let draft = UserDraft::prepare(UserInput {
            password: Some("s3cret".into()),
            ..input("alice")
        })
        .await
        .expect("hashes");
        let user = draft.into_user(None).expect("user");
        let hash = user.password_hash.expect("a hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        let parsed = PasswordHash::new(&hash).expect("PHC string");
        use argon2::PasswordVerifier;
        assert!(Argon2::default()
            .verify_password(b"s3cret", &parsed)
            .is_ok());
    }

    #[tokio::test]
    async fn without_a_password_the_old_hash_is_kept_or_cleared_on_request() {
        let old = with_hash(Some(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
        ));
        let kept = UserDraft::prepare(input("alice"))
            .await
            .expect("draft")
            .into_user(Some(&old))
            .expect("user");
        assert_eq!(kept.password_hash, old.password_hash);
        let cleared = UserDraft::prepare(UserInput {
            has_password: Some(false),
            ..input("alice")
        })
        .await
        .expect("draft")
        .into_user(Some(&old))
        .expect("user");
        assert_eq!(cleared.password_hash, None);
        let missing = UserDraft::prepare(UserInput {
            has_password: Some(true),
            ..input("alice")
        })
        .await
        .expect("draft")
        .into_user(Some(&with_hash(None)));
        assert!(matches!(missing, Err(ApiError::BadRequest { .. })));
    }

    #[tokio::test]
    async fn contradictory_or_malformed_passwords_are_refused() {
        let both = UserDraft::prepare(UserInput {
            password: Some("a".into()),
            password_hash: Some("b".into()),
            ..input("alice")
        })
        .await;
        assert!(matches!(both, Err(ApiError::BadRequest { .. })));
        let malformed = UserDraft::prepare(UserInput {
            password_hash: Some("not-a-hash".into()),
            ..input("alice")
        })
        .await;
        assert!(matches!(malformed, Err(ApiError::BadRequest { .. })));
    }
}
