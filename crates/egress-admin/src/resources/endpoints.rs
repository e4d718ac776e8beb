//! `/v1/accounts/{id}/proxy-endpoints`: how an account's clients reach the gateway.

use axum::extract::State;
use egress_model::ProxyEndpoint;

use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::resources::{account, account_mut, find, insert, remove, replace};
use crate::state::AppState;
use crate::write::{write, Change, Tagged};

/// Lists an account's proxy endpoints.
#[utoipa::path(get, path = "/v1/accounts/{id}/proxy-endpoints", tag = "proxy endpoints",
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, description = "The endpoints", body = Vec<ProxyEndpoint>)))]
pub(crate) async fn list_endpoints(
    State(state): State<AppState>,
    Params(id): Params<String>,
) -> Result<Tagged<Vec<ProxyEndpoint>>, ApiError> {
    let current = state.current().await?;
    let endpoints = account(&current.config.config, &id)?
        .proxy_endpoints
        .clone();
    Ok(Tagged::ok(current.revision, endpoints))
}

/// Adds a proxy endpoint to an account.
#[utoipa::path(post, path = "/v1/accounts/{id}/proxy-endpoints", tag = "proxy endpoints",
    request_body = ProxyEndpoint,
    params(("id" = String, Path, description = "Account id")),
    responses((status = 201, description = "Created", body = ProxyEndpoint)))]
pub(crate) async fn create_endpoint(
    State(state): State<AppState>,
    change: Change,
    Params(id): Params<String>,
    Body(endpoint): Body<ProxyEndpoint>,
) -> Result<Tagged<ProxyEndpoint>, ApiError> {
    let (revision, endpoint) = write(&state, change, move |config| {
        insert(
            &mut account_mut(config, &id)?.proxy_endpoints,
            endpoint.clone(),
        )?;
        Ok(endpoint)
    })
    .await?;
    Ok(Tagged::created(revision, endpoint))
}

/// Returns one proxy endpoint.
#[utoipa::path(get, path = "/v1/accounts/{id}/proxy-endpoints/{name}", tag = "proxy endpoints",
    params(("id" = String, Path, description = "Account id"),
           ("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, description = "The endpoint", body = ProxyEndpoint)))]
pub(crate) async fn get_endpoint(
    State(state): State<AppState>,
    Params((id, name)): Params<(String, String)>,
) -> Result<Tagged<ProxyEndpoint>, ApiError> {
    let current = state.current().await?;
    let endpoint = find(
        &account(&current.config.config, &id)?.proxy_endpoints,
        &name,
    )?;
    Ok(Tagged::ok(current.revision, endpoint.clone()))
}

/// Replaces a proxy endpoint; a new `name` renames it.
#[utoipa::path(put, path = "/v1/accounts/{id}/proxy-endpoints/{name}", tag = "proxy endpoints",
    request_body = ProxyEndpoint,
    params(("id" = String, Path, description = "Account id"),
           ("name" = String, Path, description = "Endpoint name")),
    responses((status = 200, description = "Replaced", body = ProxyEndpoint)))]
pub(crate) async fn update_endpoint(
    State(state): State<AppState>,
    change: Change,
    Params((id, name)): Params<(String, String)>,
    Body(endpoint): Body<ProxyEndpoint>,
) -> Result<Tagged<ProxyEndpoint>, ApiError> {
    let (revision, endpoint) = write(&state, change, move |config| {
        replace(
            &mut account_mut(config, &id)?.proxy_endpoints,
            &name,
            endpoint.clone(),
        )?;
        Ok(endpoint)
    })
    .await?;
    Ok(Tagged::ok(revision, endpoint))
}

/// Removes a proxy endpoint.
#[utoipa::path(delete, path = "/v1/accounts/{id}/proxy-endpoints/{name}", tag = "proxy endpoints",
    params(("id" = String, Path, description = "Account id"),
           ("name" = String, Path, description = "Endpoint name")),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_endpoint(
    State(state): State<AppState>,
    change: Change,
    Params((id, name)): Params<(String, String)>,
) -> Result<Tagged<()>, ApiError> {
    let (revision, _) = write(&state, change, move |config| {
        remove(&mut account_mut(config, &id)?.proxy_endpoints, &name).map(drop)
    })
    .await?;
    Ok(Tagged::deleted(revision))
}
