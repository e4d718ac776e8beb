//! What the node is doing: status, health, live connections, port budget, recent logs, metrics.

use axum::extract::{Extension, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{bounded, Query};
use crate::node::{LogFilter, NodeStatus, PortUsageView, TrafficHistoryView};
use crate::state::AppState;
use crate::write::Tagged;

/// Live views return at most this many records (a larger `limit` or `top` is refused).
const MAX_RECORDS: usize = 10_000;

/// The content type of the Prometheus text exposition format.
pub(crate) const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The node's status and the latest stored revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusView {
    /// The node.
    #[serde(flatten)]
    pub node: NodeStatus,
    /// The latest revision in the store (0 when empty); the node runs `revision`.
    pub latest_revision: u64,
}

/// Liveness or readiness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HealthView {
    /// `ok` or `ready`.
    pub status: String,
}

/// Which live connections to return.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ConnectionsQuery {
    /// Only this account's (an account token always sees only its own).
    account: Option<String>,
    /// At most this many, newest first (default 100).
    #[param(maximum = 10000)]
    limit: Option<usize>,
}

/// How many address/destination pairs to return.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PortUsageQuery {
    /// The busiest this many (default 20).
    #[param(maximum = 10000)]
    top: Option<usize>,
}

/// Which recent log records to return.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogsQuery {
    /// Account id (an account token always sees only its own).
    account: Option<String>,
    /// User name.
    user: Option<String>,
    /// Policy id.
    policy: Option<String>,
    /// Egress (source) address.
    egress_ip: Option<String>,
    /// Close reason code.
    close_reason: Option<String>,
    /// At most this many, newest first (default 100).
    #[param(maximum = 10000)]
    limit: Option<usize>,
}

/// Says the process is alive (no token needed).
#[utoipa::path(get, path = "/healthz", tag = "node",
    responses((status = 200, description = "Alive", body = HealthView)))]
pub(crate) async fn healthz() -> axum::Json<HealthView> {
    axum::Json(HealthView {
        status: "ok".into(),
    })
}

/// Says whether the node serves traffic (no token needed).
#[utoipa::path(get, path = "/readyz", tag = "node",
    responses((status = 200, description = "Ready", body = HealthView)))]
pub(crate) async fn readyz(
    State(state): State<AppState>,
) -> Result<axum::Json<HealthView>, ApiError> {
    if !state.node.ready() {
        return Err(ApiError::NotReady);
    }
    Ok(axum::Json(HealthView {
        status: "ready".into(),
    }))
}

/// Returns the node's id, location, mode, running revision, listeners and the latest revision.
#[utoipa::path(get, path = "/v1/status", tag = "node",
    responses((status = 200, description = "The node's status", body = StatusView)))]
pub(crate) async fn status(State(state): State<AppState>) -> Result<Tagged<StatusView>, ApiError> {
    let latest_revision = state.latest().await?.map_or(0, |r| r.number);
    let view = StatusView {
        node: state.node.status(),
        latest_revision,
    };
    Ok(Tagged::ok(latest_revision, view))
}

/// Lists live connections with their plans, newest first.
#[utoipa::path(get, path = "/v1/connections", tag = "node", params(ConnectionsQuery),
    responses((status = 200, description = "Live connections (log record fields plus `age_ms`)", body = Vec<Object>)))]
pub(crate) async fn connections(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<ConnectionsQuery>,
) -> Result<axum::Json<Vec<serde_json::Value>>, ApiError> {
    let account = caller.account_filter(query.account)?;
    let limit = bounded("limit", query.limit, 100, MAX_RECORDS)?;
    let records = state.node.live_connections(account.as_deref(), limit);
    Ok(axum::Json(records))
}

/// Lists the busiest (egress address, destination) pairs against their port budget.
#[utoipa::path(get, path = "/v1/port-usage", tag = "node", params(PortUsageQuery),
    responses((status = 200, description = "Busiest pairs first", body = Vec<PortUsageView>)))]
pub(crate) async fn port_usage(
    State(state): State<AppState>,
    Query(query): Query<PortUsageQuery>,
) -> Result<axum::Json<Vec<PortUsageView>>, ApiError> {
    let top = bounded("top", query.top, 20, MAX_RECORDS)?;
    Ok(axum::Json(state.node.port_usage(top)))
}

/// Lists recent connection log records, newest first, filtered.
#[utoipa::path(get, path = "/v1/logs", tag = "node", params(LogsQuery),
    responses((status = 200, description = "Log records, newest first", body = Vec<Object>)))]
pub(crate) async fn logs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<LogsQuery>,
) -> Result<axum::Json<Vec<serde_json::Value>>, ApiError> {
    let filter = LogFilter {
        account: caller.account_filter(query.account)?,
        user: query.user,
        policy: query.policy,
        egress_ip: query.egress_ip,
        close_reason: query.close_reason,
    };
    let limit = bounded("limit", query.limit, 100, MAX_RECORDS)?;
    let records = state.node.recent_logs(&filter, limit);
    Ok(axum::Json(records))
}

/// Connections and bytes per egress address over the last hour (the node's in-memory history).
#[utoipa::path(get, path = "/v1/traffic-history", tag = "node",
    responses((status = 200, description = "One series per egress address, samples oldest first", body = TrafficHistoryView)))]
pub(crate) async fn traffic_history(
    State(state): State<AppState>,
) -> axum::Json<TrafficHistoryView> {
    axum::Json(state.node.traffic_history())
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "node",
    responses((status = 200, description = "Prometheus text exposition", body = String,
        content_type = "text/plain; version=0.0.4")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = state.node.metrics_text().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(METRICS_CONTENT_TYPE),
    );
    response
}
