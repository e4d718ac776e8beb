//! The operator's address space: `/v1/address-pools` and the read-only `/v1/leased-ips` view
//! of which IPv4 and /64 is held by which account where.

use std::net::IpAddr;

use axum::extract::State;
use egress_model::{AddressPool, Config, IpSource};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;
use crate::write::Tagged;

keyed_collection! {
    type: AddressPool,
    field: address_pools,
    tag: "address space",
    collection: "/v1/address-pools",
    item: "/v1/address-pools/{name}",
    param: "name",
    docs: [
        "Lists the operator's leased address pools.",
        "Adds an address pool.",
        "Returns one address pool.",
        "Replaces an address pool; a new `name` renames it.",
        "Removes an address pool (refused while a leased IP lies in it).",
    ],
    handlers: [list_pools, create_pool, get_pool, update_pool, delete_pool],
}

/// One dedicated egress IP as the address space sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LeasedIpView {
    /// The IPv4 address.
    pub ipv4: String,
    /// The IPv6 /64.
    pub ipv6: String,
    /// The account holding it.
    pub account: String,
    /// The location it lives in and geolocates to.
    pub location: String,
    /// The location's city.
    pub city: String,
    /// The location's country.
    pub country: String,
    /// Leased from a pool or brought by the account.
    pub source: IpSource,
    /// The pool holding the IPv4, for leased IPs.
    pub pool: Option<String>,
}

/// Every dedicated IPv4 and /64 with its account, location, city, country and source.
#[utoipa::path(get, path = "/v1/leased-ips", tag = "address space",
    responses((status = 200, description = "Every dedicated IP, by IPv4", body = Vec<LeasedIpView>)))]
pub(crate) async fn list_leased_ips(
    State(state): State<AppState>,
) -> Result<Tagged<Vec<LeasedIpView>>, ApiError> {
    let current = state.current().await?;
    Ok(Tagged::ok(
        current.revision,
        leased_ips(&current.config.config),
    ))
}

fn leased_ips(config: &Config) -> Vec<LeasedIpView> {
    let mut views: Vec<(std::net::Ipv4Addr, LeasedIpView)> = config
        .accounts
        .iter()
        .flat_map(|account| account.dedicated_ips.iter().map(move |ip| (account, ip)))
        .map(|(account, ip)| {
            let location = config.locations.iter().find(|l| l.code == ip.location);
            let pool = config
                .address_pools
                .iter()
                .find(|p| p.prefix.contains(&IpAddr::V4(ip.ipv4)))
                .filter(|_| ip.source == IpSource::Leased)
                .map(|p| p.name.clone());
            let view = LeasedIpView {
                ipv4: ip.ipv4.to_string(),
                ipv6: ip.ipv6.to_string(),
                account: account.id.0.clone(),
                location: ip.location.to_string(),
                city: location.map(|l| l.city.clone()).unwrap_or_default(),
                country: location.map(|l| l.country.clone()).unwrap_or_default(),
                source: ip.source,
                pool,
            };
            (ip.ipv4, view)
        })
        .collect();
    views.sort_by_key(|(ipv4, _)| *ipv4);
    views.into_iter().map(|(_, view)| view).collect()
}
