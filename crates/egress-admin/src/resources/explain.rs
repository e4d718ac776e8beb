//! `POST /v1/explain`: the plan the running snapshot gives an intent, with every policy
//! considered — what `egressd trace` prints.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Extension, State};
use egress_model::{ClientAddr, TargetAddr, TargetHost};
use egress_policy::{explain, Geo, Intent, LocationHealth, Transport};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Body;
use crate::resources::explain_view::ExplanationView;
use crate::state::AppState;

/// Transport of the intent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// ICMP.
    Icmp,
}

/// An intent, as `egressd trace` takes it on its command line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// Account id.
    pub account: String,
    /// User name.
    #[serde(default)]
    pub user: Option<String>,
    /// Client address, `IP` or `IP:PORT`.
    pub from: String,
    /// Target, `HOST:PORT`, `IPv4:PORT` or `[IPv6]:PORT`.
    pub to: String,
    /// The address a host name resolved to.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub resolved: Option<IpAddr>,
    /// Transport (default tcp).
    #[serde(default)]
    pub proto: Proto,
    /// Ingress location (default: this node's).
    #[serde(default)]
    pub location: Option<String>,
    /// Proxy endpoint name.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The client's address inside its own network.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub internal_src_ip: Option<IpAddr>,
    /// Client country (ISO 3166-1 alpha-2).
    #[serde(default)]
    pub src_country: Option<String>,
    /// Client continent (two letters).
    #[serde(default)]
    pub src_continent: Option<String>,
    /// Destination country.
    #[serde(default)]
    pub dst_country: Option<String>,
    /// Destination continent.
    #[serde(default)]
    pub dst_continent: Option<String>,
    /// Location codes to treat as down, besides those the node sees down.
    #[serde(default)]
    pub down: Vec<String>,
}

/// Explains the plan for an intent against the running snapshot.
#[utoipa::path(post, path = "/v1/explain", tag = "explain", request_body = ExplainRequest,
    responses((status = 200, description = "The plan or refusal, and every policy considered", body = ExplanationView)))]
pub(crate) async fn explain_intent(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Body(request): Body<ExplainRequest>,
) -> Result<axum::Json<ExplanationView>, ApiError> {
    caller.account_filter(Some(request.account.clone()))?;
    let client = parse_client(&request.from)?;
    let target =
        TargetAddr::parse(&request.to).map_err(|e| ApiError::bad_request(format!("to: {e}")))?;
    let dst_ip = match &target.host {
        TargetHost::Ip(ip) => Some(*ip),
        TargetHost::Name(_) => request.resolved,
    };
    let mut snapshot = state.node.snapshot();
    if !request.down.is_empty() {
        // The node's own view of health, plus the locations the caller asks to treat as down.
        let current = state.current().await?;
        let health = current
            .config
            .config
            .locations
            .iter()
            .map(|l| l.code.as_str())
            .filter(|code| snapshot.has_location(code) && !snapshot.is_healthy(code))
            .chain(request.down.iter().map(String::as_str))
            .fold(LocationHealth::all_up(), LocationHealth::down);
        snapshot = snapshot.with_health(&health);
    }
    let location = match request.location {
        Some(location) => location,
        None => state.node.status().location,
    };
    let intent = Intent {
        account: &request.account,
        user: request.user.as_deref(),
        client: ClientAddr(client),
        internal_src_ip: request.internal_src_ip,
        proxy_endpoint: request.endpoint.as_deref(),
        target: &target,
        dst_ip,
        transport: match request.proto {
            Proto::Tcp => Transport::Tcp,
            Proto::Udp => Transport::Udp,
            Proto::Icmp => Transport::Icmp,
        },
        location: &location,
        src_geo: Geo {
            country: request.src_country.as_deref(),
            continent: request.src_continent.as_deref(),
        },
        dst_geo: Geo {
            country: request.dst_country.as_deref(),
            continent: request.dst_continent.as_deref(),
        },
    };
    let explanation = explain(&intent, &snapshot);
    Ok(axum::Json(ExplanationView::from_explanation(&explanation)?))
}

fn parse_client(text: &str) -> Result<SocketAddr, ApiError> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 0))
        .map_err(|_| ApiError::bad_request(format!("from: `{text}` is not an address")))
}
