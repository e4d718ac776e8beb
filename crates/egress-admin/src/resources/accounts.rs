//! `/v1/accounts` and the account's own settings: traffic settings, groups, BYOIP prefixes.

use axum::extract::{Extension, State};
use egress_model::{
    Account, AccountId, Config, DedicatedIp, Policy, ProxyEndpoint, TrafficSettings,
};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::resources::users::{UserDraft, UserInput, UserView};
use crate::resources::{account, account_mut, find, insert, remove, replace};
use crate::state::AppState;
use crate::write::{write, Change, Tagged};

/// An account as the API shows it: everything but users' password hashes.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AccountView {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Proxy, TCP, UDP and host-selector switches.
    pub traffic: TrafficSettings,
    /// Groups users may belong to.
    pub groups: Vec<String>,
    /// Users.
    pub users: Vec<UserView>,
    /// How clients reach the gateway.
    pub proxy_endpoints: Vec<ProxyEndpoint>,
    /// The account's own prefixes.
    #[schema(value_type = Vec<String>)]
    pub byoip_prefixes: Vec<IpNet>,
    /// Dedicated egress IPs.
    pub dedicated_ips: Vec<DedicatedIp>,
    /// Egress policies.
    pub policies: Vec<Policy>,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> AccountView {
        AccountView {
            id: a.id.0.clone(),
            name: a.name.clone(),
            traffic: a.traffic.clone(),
            groups: a.groups.clone(),
            users: a.users.iter().map(UserView::from).collect(),
            proxy_endpoints: a.proxy_endpoints.clone(),
            byoip_prefixes: a.byoip_prefixes.clone(),
            dedicated_ips: a.dedicated_ips.clone(),
            policies: a.policies.clone(),
        }
    }
}

/// An account to create or replace; lists left out are empty.
///
/// Users without a password keep the one they had under the same name, so an [`AccountView`]
/// read and sent back changes nothing.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    /// Unique id.
    pub id: AccountId,
    /// Display name.
    pub name: String,
    /// Proxy, TCP, UDP and host-selector switches.
    #[serde(default)]
    pub traffic: TrafficSettings,
    /// Groups users may belong to.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Users.
    #[serde(default)]
    pub users: Vec<UserInput>,
    /// How clients reach the gateway.
    #[serde(default)]
    pub proxy_endpoints: Vec<ProxyEndpoint>,
    /// The account's own prefixes.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub byoip_prefixes: Vec<IpNet>,
    /// Dedicated egress IPs, leased (from a pool) or BYOIP.
    #[serde(default)]
    pub dedicated_ips: Vec<DedicatedIp>,
    /// Egress policies.
    #[serde(default)]
    pub policies: Vec<Policy>,
}

/// An [`AccountInput`] with its passwords hashed.
struct AccountDraft {
    input: AccountInput,
    users: Vec<UserDraft>,
}

impl AccountDraft {
    async fn prepare(mut input: AccountInput) -> Result<AccountDraft, ApiError> {
        let mut users = Vec::with_capacity(input.users.len());
        for user in std::mem::take(&mut input.users) {
            users.push(UserDraft::prepare(user).await?);
        }
        Ok(AccountDraft { input, users })
    }

    /// The account to store, given the one it replaces.
    fn into_account(self, previous: Option<&Account>) -> Result<Account, ApiError> {
        let users = self
            .users
            .into_iter()
            .map(|draft| {
                let old = previous.and_then(|a| a.users.iter().find(|u| draft.is_named(&u.name)));
                draft.into_user(old)
            })
            .collect::<Result<_, _>>()?;
        let input = self.input;
        Ok(Account {
            id: input.id,
            name: input.name,
            traffic: input.traffic,
            groups: input.groups,
            users,
            proxy_endpoints: input.proxy_endpoints,
            byoip_prefixes: input.byoip_prefixes,
            dedicated_ips: input.dedicated_ips,
            policies: input.policies,
        })
    }
}

/// Lists the accounts (an account token sees only its own).
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts",
    responses((status = 200, description = "The accounts", body = Vec<AccountView>)))]
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Tagged<Vec<AccountView>>, ApiError> {
    let current = state.current().await?;
    let views = current
        .config
        .config
        .accounts
        .iter()
        .filter(|a| caller.account.as_ref().is_none_or(|own| *own == a.id.0))
        .map(AccountView::from)
        .collect();
    Ok(Tagged::ok(current.revision, views))
}

/// Creates an account, with its users, endpoints, dedicated IPs and policies if given.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = AccountInput,
    responses((status = 201, description = "Created", body = AccountView)))]
pub(crate) async fn create_account(
    State(state): State<AppState>,
    change: Change,
    Body(input): Body<AccountInput>,
) -> Result<Tagged<AccountView>, ApiError> {
    let draft = AccountDraft::prepare(input).await?;
    let (revision, view) = write(&state, change, move |config| {
        let account = draft.into_account(None)?;
        let view = AccountView::from(&account);
        insert(&mut config.accounts, account)?;
        Ok(view)
    })
    .await?;
    Ok(Tagged::created(revision, view))
}

/// Returns one account.
#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The account", body = AccountView)))]
pub(crate) async fn get_account(
    State(state): State<AppState>,
    Params(id): Params<String>,
) -> Result<Tagged<AccountView>, ApiError> {
    let current = state.current().await?;
    let view = AccountView::from(account(&current.config.config, &id)?);
    Ok(Tagged::ok(current.revision, view))
}

/// Replaces an account whole; a new `id` renames it.
#[utoipa::path(put, path = "/v1/accounts/{id}", tag = "accounts", request_body = AccountInput,
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "Replaced", body = AccountView)))]
pub(crate) async fn update_account(
    State(state): State<AppState>,
    change: Change,
    Params(id): Params<String>,
    Body(input): Body<AccountInput>,
) -> Result<Tagged<AccountView>, ApiError> {
    let draft = AccountDraft::prepare(input).await?;
    let (revision, view) = write(&state, change, move |config| {
        let account = draft.into_account(Some(find(&config.accounts, &id)?))?;
        let view = AccountView::from(&account);
        replace(&mut config.accounts, &id, account)?;
        Ok(view)
    })
    .await?;
    Ok(Tagged::ok(revision, view))
}

/// Deletes an account and everything it holds; its dedicated IPs return to the pool.
#[utoipa::path(delete, path = "/v1/accounts/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Account id")),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    change: Change,
    Params(id): Params<String>,
) -> Result<Tagged<()>, ApiError> {
    let (revision, _) = write(&state, change, move |config| {
        remove(&mut config.accounts, &id).map(drop)
    })
    .await?;
    Ok(Tagged::deleted(revision))
}

/// Reads one setting of an account.
async fn read_setting<T>(
    state: &AppState,
    id: &str,
    get: impl FnOnce(&Account) -> T,
) -> Result<Tagged<T>, ApiError>
where
    T: Serialize,
{
    let current = state.current().await?;
    let value = get(account(&current.config.config, id)?);
    Ok(Tagged::ok(current.revision, value))
}

/// Replaces one setting of an account.
async fn write_setting<T>(
    state: &AppState,
    change: Change,
    id: String,
    value: T,
    set: impl FnOnce(&mut Account, T) + Send,
) -> Result<Tagged<T>, ApiError>
where
    T: Serialize + Clone + Send,
{
    let (revision, value) = write(state, change, move |config: &mut Config| {
        set(account_mut(config, &id)?, value.clone());
        Ok(value)
    })
    .await?;
    Ok(Tagged::ok(revision, value))
}

/// Returns an account's traffic settings.
#[utoipa::path(get, path = "/v1/accounts/{id}/traffic-settings", tag = "accounts",
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The settings", body = TrafficSettings)))]
pub(crate) async fn get_traffic_settings(
    State(state): State<AppState>,
    Params(id): Params<String>,
) -> Result<Tagged<TrafficSettings>, ApiError> {
    read_setting(&state, &id, |a| a.traffic.clone()).await
}

/// Replaces an account's traffic settings.
#[utoipa::path(put, path = "/v1/accounts/{id}/traffic-settings", tag = "accounts",
    request_body = TrafficSettings,
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "Replaced", body = TrafficSettings)))]
pub(crate) async fn put_traffic_settings(
    State(state): State<AppState>,
    change: Change,
    Params(id): Params<String>,
    Body(settings): Body<TrafficSettings>,
) -> Result<Tagged<TrafficSettings>, ApiError> {
    write_setting(&state, change, id, settings, |a, s| a.traffic = s).await
}

/// Returns the groups an account declares.
#[utoipa::path(get, path = "/v1/accounts/{id}/groups", tag = "accounts",
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The groups", body = Vec<String>)))]
pub(crate) async fn get_groups(
    State(state): State<AppState>,
    Params(id): Params<String>,
) -> Result<Tagged<Vec<String>>, ApiError> {
    read_setting(&state, &id, |a| a.groups.clone()).await
}

/// Replaces the groups an account declares (refused while a user is in a removed group).
#[utoipa::path(put, path = "/v1/accounts/{id}/groups", tag = "accounts",
    request_body = Vec<String>,
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "Replaced", body = Vec<String>)))]
pub(crate) async fn put_groups(
    State(state): State<AppState>,
    change: Change,
    Params(id): Params<String>,
    Body(groups): Body<Vec<String>>,
) -> Result<Tagged<Vec<String>>, ApiError> {
    write_setting(&state, change, id, groups, |a, g| a.groups = g).await
}

/// Returns an account's own (BYOIP) prefixes.
#[utoipa::path(get, path = "/v1/accounts/{id}/byoip-prefixes", tag = "address space",
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The prefixes", body = Vec<String>)))]
pub(crate) async fn get_byoip_prefixes(
    State(state): State<AppState>,
    Params(id): Params<String>,
) -> Result<Tagged<Vec<IpNet>>, ApiError> {
    read_setting(&state, &id, |a| a.byoip_prefixes.clone()).await
}

/// Replaces an account's own (BYOIP) prefixes (refused while a BYOIP dedicated IP leaves them).
#[utoipa::path(put, path = "/v1/accounts/{id}/byoip-prefixes", tag = "address space",
    request_body = Vec<String>,
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "Replaced", body = Vec<String>)))]
pub(crate) async fn put_byoip_prefixes(
    State(state): State<AppState>,
    change: Change,
    Params(id): Params<String>,
    Body(prefixes): Body<Vec<IpNet>>,
) -> Result<Tagged<Vec<IpNet>>, ApiError> {
    write_setting(&state, change, id, prefixes, |a, p| a.byoip_prefixes = p).await
}
