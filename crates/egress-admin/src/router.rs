//! Every route the API serves, in one table, and the router built from it.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{Method, Uri};
use axum::routing::{on, MethodFilter};
use axum::{middleware, Router};
use egress_store::ConfigStore;

use crate::auth::require_token;
use crate::error::ApiError;
use crate::node::Node;
use crate::openapi::openapi_json;
use crate::resources::{
    accounts, address_space, config, dedicated_ips, distribution, endpoints, explain, geo,
    locations, networks, observe, policies, users,
};
use crate::state::AppState;

/// Largest request body: a whole configuration of a large deployment fits.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The admin API: the routes of [`served_routes`] over `store` and `node`.
///
/// Every route needs a bearer token except `/healthz`, `/readyz`, `/v1/openapi.json`,
/// `/geofeed.csv` and the dashboard's files under `/dashboard/` (the page asks for a token and
/// sends it to `/v1`).
pub fn router(store: Arc<dyn ConfigStore>, node: Arc<dyn Node>) -> Router {
    let state = AppState::new(store, node);
    let table = table();
    let protected = table
        .protected
        .router
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    table
        .public
        .router
        .merge(protected)
        .merge(crate::dashboard::routes())
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Every (method, path template) the router serves, such as `("GET", "/v1/accounts/{id}")`.
pub fn served_routes() -> Vec<(String, String)> {
    let table = table();
    table
        .public
        .served
        .into_iter()
        .chain(table.protected.served)
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect()
}

/// Answers a path no route serves.
async fn unknown_route(uri: Uri) -> ApiError {
    ApiError::NotFound {
        what: format!("route {}", uri.path()),
    }
}

/// Routes being registered, with the list of what they serve.
struct Routes {
    router: Router<AppState>,
    served: Vec<(Method, &'static str)>,
}

impl Routes {
    fn new() -> Routes {
        Routes {
            router: Router::new(),
            served: Vec::new(),
        }
    }

    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
        // Registering a path again adds the method to the path's method router.
        self.router = self.router.route(path, on(filter, handler));
        self.served.push((method, path));
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add(Method::GET, path, h)
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add(Method::POST, path, h)
    }

    fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add(Method::PUT, path, h)
    }

    fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add(Method::DELETE, path, h)
    }
}

struct Table {
    public: Routes,
    protected: Routes,
}

fn table() -> Table {
    let public = Routes::new()
        .get("/healthz", observe::healthz)
        .get("/readyz", observe::readyz)
        .get("/v1/openapi.json", openapi_json)
        // Public data: the RFC 8805 geofeed is meant to be fetched by geolocation providers.
        .get("/geofeed.csv", geo::geofeed_csv);
    let protected = Routes::new()
        .get("/metrics", observe::metrics)
        .get("/v1/status", observe::status)
        .get("/v1/connections", observe::connections)
        .get("/v1/port-usage", observe::port_usage)
        .get("/v1/logs", observe::logs)
        .get("/v1/geo/check", geo::geo_check)
        .get("/v1/traffic-history", observe::traffic_history)
        .get("/v1/config/next", distribution::next_revision)
        .get("/v1/fleet/nodes", distribution::node_reports)
        .get("/v1/fleet/health", distribution::fleet_health)
        .post("/v1/fleet/health-reports", distribution::report_health)
        .post("/v1/explain", explain::explain_intent)
        // The whole document and its history.
        .get("/v1/config", config::get_config)
        .put("/v1/config", config::put_config)
        .get("/v1/revisions", config::list_revisions)
        .get("/v1/revisions/{n}", config::get_revision)
        .get("/v1/audit", config::list_audit)
        // Deployment.
        .get("/v1/locations", locations::list_locations)
        .post("/v1/locations", locations::create_location)
        .get("/v1/locations/{code}", locations::get_location)
        .put("/v1/locations/{code}", locations::update_location)
        .delete("/v1/locations/{code}", locations::delete_location)
        .get("/v1/nodes", locations::list_nodes)
        .post("/v1/nodes", locations::create_node)
        .get("/v1/nodes/{id}", locations::get_node)
        .put("/v1/nodes/{id}", locations::update_node)
        .delete("/v1/nodes/{id}", locations::delete_node)
        .get("/v1/address-pools", address_space::list_pools)
        .post("/v1/address-pools", address_space::create_pool)
        .get("/v1/address-pools/{name}", address_space::get_pool)
        .put("/v1/address-pools/{name}", address_space::update_pool)
        .delete("/v1/address-pools/{name}", address_space::delete_pool)
        .get("/v1/leased-ips", address_space::list_leased_ips)
        .get("/v1/on-net", networks::list_on_net)
        .post("/v1/on-net", networks::create_on_net)
        .get("/v1/on-net/{name}", networks::get_on_net)
        .put("/v1/on-net/{name}", networks::update_on_net)
        .delete("/v1/on-net/{name}", networks::delete_on_net)
        .get("/v1/private-networks", networks::list_private_networks)
        .post("/v1/private-networks", networks::create_private_network)
        .get("/v1/private-networks/{name}", networks::get_private_network)
        .put(
            "/v1/private-networks/{name}",
            networks::update_private_network,
        )
        .delete(
            "/v1/private-networks/{name}",
            networks::delete_private_network,
        )
        // Accounts.
        .get("/v1/accounts", accounts::list_accounts)
        .post("/v1/accounts", accounts::create_account)
        .get("/v1/accounts/{id}", accounts::get_account)
        .put("/v1/accounts/{id}", accounts::update_account)
        .delete("/v1/accounts/{id}", accounts::delete_account)
        .get(
            "/v1/accounts/{id}/traffic-settings",
            accounts::get_traffic_settings,
        )
        .put(
            "/v1/accounts/{id}/traffic-settings",
            accounts::put_traffic_settings,
        )
        .get("/v1/accounts/{id}/groups", accounts::get_groups)
        .put("/v1/accounts/{id}/groups", accounts::put_groups)
        .get(
            "/v1/accounts/{id}/byoip-prefixes",
            accounts::get_byoip_prefixes,
        )
        .put(
            "/v1/accounts/{id}/byoip-prefixes",
            accounts::put_byoip_prefixes,
        )
        .get("/v1/accounts/{id}/users", users::list_users)
        .post("/v1/accounts/{id}/users", users::create_user)
        .get("/v1/accounts/{id}/users/{name}", users::get_user)
        .put("/v1/accounts/{id}/users/{name}", users::update_user)
        .delete("/v1/accounts/{id}/users/{name}", users::delete_user)
        .get(
            "/v1/accounts/{id}/proxy-endpoints",
            endpoints::list_endpoints,
        )
        .post(
            "/v1/accounts/{id}/proxy-endpoints",
            endpoints::create_endpoint,
        )
        .get(
            "/v1/accounts/{id}/proxy-endpoints/{name}",
            endpoints::get_endpoint,
        )
        .put(
            "/v1/accounts/{id}/proxy-endpoints/{name}",
            endpoints::update_endpoint,
        )
        .delete(
            "/v1/accounts/{id}/proxy-endpoints/{name}",
            endpoints::delete_endpoint,
        )
        .get(
            "/v1/accounts/{id}/dedicated-ips",
            dedicated_ips::list_dedicated_ips,
        )
        .post(
            "/v1/accounts/{id}/dedicated-ips",
            dedicated_ips::create_dedicated_ip,
        )
        .put(
            "/v1/accounts/{id}/dedicated-ips",
            dedicated_ips::put_dedicated_ips,
        )
        .get(
            "/v1/accounts/{id}/dedicated-ips/{ipv4}",
            dedicated_ips::get_dedicated_ip,
        )
        .put(
            "/v1/accounts/{id}/dedicated-ips/{ipv4}",
            dedicated_ips::update_dedicated_ip,
        )
        .delete(
            "/v1/accounts/{id}/dedicated-ips/{ipv4}",
            dedicated_ips::delete_dedicated_ip,
        )
        .get("/v1/accounts/{id}/egress-manifest", geo::egress_manifest)
        .get("/v1/accounts/{id}/policies", policies::list_policies)
        .post(
            "/v1/accounts/{id}/policy-validation",
            policies::validate_policy,
        )
        .post("/v1/accounts/{id}/policies", policies::create_policy)
        .get(
            "/v1/accounts/{id}/policies/{policy_id}",
            policies::get_policy,
        )
        .put(
            "/v1/accounts/{id}/policies/{policy_id}",
            policies::update_policy,
        )
        .delete(
            "/v1/accounts/{id}/policies/{policy_id}",
            policies::delete_policy,
        )
        .post(
            "/v1/accounts/{id}/policies/{policy_id}/enable",
            policies::enable_policy,
        )
        .post(
            "/v1/accounts/{id}/policies/{policy_id}/disable",
            policies::disable_policy,
        )
        .post(
            "/v1/accounts/{id}/policies/{policy_id}/move",
            policies::move_policy,
        );
    Table { public, protected }
}
