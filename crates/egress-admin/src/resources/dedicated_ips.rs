//! `/v1/accounts/{id}/dedicated-ips`: the IPv4 + /64 pairs an account holds. The whole list can
//! be replaced at once, since an account needs two in two cities from the start (rule 11).

use axum::extract::State;
use egress_model::DedicatedIp;

use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::resources::{account, account_mut, find, insert, remove, replace};
use crate::state::AppState;
use crate::write::{write, Change, Tagged};

/// Lists an account's dedicated egress IPs.
#[utoipa::path(get, path = "/v1/accounts/{id}/dedicated-ips", tag = "address space",
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The dedicated IPs", body = Vec<DedicatedIp>)))]
pub(crate) async fn list_dedicated_ips(
    State(state): State<AppState>,
    Params(id): Params<String>,
) -> Result<Tagged<Vec<DedicatedIp>>, ApiError> {
    let current = state.current().await?;
    let ips = account(&current.config.config, &id)?.dedicated_ips.clone();
    Ok(Tagged::ok(current.revision, ips))
}

/// Leases one more dedicated IP to an account.
#[utoipa::path(post, path = "/v1/accounts/{id}/dedicated-ips", tag = "address space",
    request_body = DedicatedIp,
    params(("id" = String, Path, description = "Account id")),
    responses((status = 201, description = "Leased", body = DedicatedIp)))]
pub(crate) async fn create_dedicated_ip(
    State(state): State<AppState>,
    change: Change,
    Params(id): Params<String>,
    Body(ip): Body<DedicatedIp>,
) -> Result<Tagged<DedicatedIp>, ApiError> {
    let (revision, ip) = write(&state, change, move |config| {
        insert(&mut account_mut(config, &id)?.dedicated_ips, ip.clone())?;
        Ok(ip)
    })
    .await?;
    Ok(Tagged::created(revision, ip))
}

/// Replaces every dedicated IP of an account at once.
#[utoipa::path(put, path = "/v1/accounts/{id}/dedicated-ips", tag = "address space",
    request_body = Vec<DedicatedIp>,
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "Replaced", body = Vec<DedicatedIp>)))]
pub(crate) async fn put_dedicated_ips(
    State(state): State<AppState>,
    change: Change,
    Params(id): Params<String>,
    Body(ips): Body<Vec<DedicatedIp>>,
) -> Result<Tagged<Vec<DedicatedIp>>, ApiError> {
    let (revision, ips) = write(&state, change, move |config| {
        account_mut(config, &id)?.dedicated_ips = ips.clone();
        Ok(ips)
    })
    .await?;
    Ok(Tagged::ok(revision, ips))
}

/// Returns one dedicated IP.
#[utoipa::path(get, path = "/v1/accounts/{id}/dedicated-ips/{ipv4}", tag = "address space",
    params(("id" = String, Path, description = "Account id"),
           ("ipv4" = String, Path, description = "The IPv4 address")),
    responses((status = 200, description = "The dedicated IP", body = DedicatedIp)))]
pub(crate) async fn get_dedicated_ip(
    State(state): State<AppState>,
    Params((id, ipv4)): Params<(String, String)>,
) -> Result<Tagged<DedicatedIp>, ApiError> {
    let current = state.current().await?;
    let ip = find(&account(&current.config.config, &id)?.dedicated_ips, &ipv4)?;
    Ok(Tagged::ok(current.revision, ip.clone()))
}

/// Replaces one dedicated IP (its /64, location or source; a new `ipv4` moves it).
#[utoipa::path(put, path = "/v1/accounts/{id}/dedicated-ips/{ipv4}", tag = "address space",
    request_body = DedicatedIp,
    params(("id" = String, Path, description = "Account id"),
           ("ipv4" = String, Path, description = "The IPv4 address")),
    responses((status = 200, description = "Replaced", body = DedicatedIp)))]
pub(crate) async fn update_dedicated_ip(
    State(state): State<AppState>,
    change: Change,
    Params((id, ipv4)): Params<(String, String)>,
    Body(ip): Body<DedicatedIp>,
) -> Result<Tagged<DedicatedIp>, ApiError> {
    let (revision, ip) = write(&state, change, move |config| {
        replace(
            &mut account_mut(config, &id)?.dedicated_ips,
            &ipv4,
            ip.clone(),
        )?;
        Ok(ip)
    })
    .await?;
    Ok(Tagged::ok(revision, ip))
}

/// Releases a dedicated IP (refused while a policy names it).
#[utoipa::path(delete, path = "/v1/accounts/{id}/dedicated-ips/{ipv4}", tag = "address space",
    params(("id" = String, Path, description = "Account id"),
           ("ipv4" = String, Path, description = "The IPv4 address")),
    responses((status = 204, description = "Released")))]
pub(crate) async fn delete_dedicated_ip(
    State(state): State<AppState>,
    change: Change,
    Params((id, ipv4)): Params<(String, String)>,
) -> Result<Tagged<()>, ApiError> {
    let (revision, _) = write(&state, change, move |config| {
        remove(&mut account_mut(config, &id)?.dedicated_ips, &ipv4).map(drop)
    })
    .await?;
    Ok(Tagged::deleted(revision))
}
