//! The node as the admin API sees it: applying revisions, status, live traffic and metrics.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use egress_admin::{
    FleetPeerView, LogFilter, Mode, Node, NodeStatus, PortUsageView, TrafficHistoryView,
};
use egress_model::Config;
use egress_policy::Snapshot;

use crate::gateway::{EgressGateway, RecordFilter};
use crate::history::{TrafficHistory, INTERVAL_SECS};
use crate::source::{self, Source};

/// The running node behind the admin API.
#[derive(Debug)]
pub struct NodeHandle {
    pub gateway: Arc<EgressGateway>,
    pub source: Arc<Source>,
    pub node_id: String,
    pub location: String,
    pub started_at: String,
    pub listeners: Vec<String>,
    pub ready: AtomicBool,
    /// Geolocation databases given with `--geo-mmdb`.
    pub geo: Vec<egress_geo::GeoDatabase>,
    /// Connections and bytes per egress address over the last hour.
    pub history: Mutex<TrafficHistory>,
}

impl Node for NodeHandle {
    fn apply(&self, revision: u64, config: &Config) -> Result<(), String> {
        self.source.apply(&self.gateway, revision, config)
    }

    fn snapshot(&self) -> Snapshot {
        (*self.gateway.snapshot()).clone()
    }

    fn status(&self) -> NodeStatus {
        let mode = match &self.source.mode {
            source::Mode::File { path } => Mode::File {
                path: path.display().to_string(),
            },
            // The API field keeps its name; with PostgreSQL it holds the URL (no password).
            source::Mode::Store { store } => Mode::Store {
                data_dir: store.clone(),
            },
            source::Mode::Subscribed { control_planes } => Mode::Subscribed {
                control_planes: control_planes.clone(),
            },
        };
        NodeStatus {
            node_id: self.node_id.clone(),
            location: self.location.clone(),
            mode,
            revision: self.source.revision(),
            started_at: self.started_at.clone(),
            listeners: self.listeners.clone(),
            fleet_peers: self
                .gateway
                .fleet()
                .map(|fleet| fleet.peers())
                .unwrap_or_default()
                .into_iter()
                .map(|peer| FleetPeerView {
                    node_id: peer.spec.id,
                    location: peer.spec.location.to_string(),
                    fleet_address: peer.spec.address.to_string(),
                    up: peer.up,
                })
                .collect(),
            locations_down: self.gateway.locations_down(),
        }
    }

    fn live_connections(&self, account: Option<&str>, limit: usize) -> Vec<serde_json::Value> {
        self.gateway
            .recorder()
            .live(account, limit)
            .into_iter()
            .filter_map(|(age_ms, record)| {
                let mut value = serde_json::to_value(&*record).ok()?;
                value["age_ms"] = serde_json::json!(age_ms as u64);
                Some(value)
            })
            .collect()
    }

    fn port_usage(&self, top: usize) -> Vec<PortUsageView> {
        let (usage, limit) = self.gateway.port_usage(top);
        usage
            .into_iter()
            .map(|u| PortUsageView {
                egress_ip: u.source.to_string(),
                destination: u.destination.to_string(),
                connections: u.connections,
                limit,
            })
            .collect()
    }

    fn recent_logs(&self, filter: &LogFilter, limit: usize) -> Vec<serde_json::Value> {
        let filter = RecordFilter {
            account: filter.account.as_deref(),
            user: filter.user.as_deref(),
            policy: filter.policy.as_deref(),
            egress_ip: filter.egress_ip.as_deref(),
            close_reason: filter.close_reason.as_deref(),
        };
        self.gateway
            .recorder()
            .recent(&filter, limit)
            .iter()
            .filter_map(|r| serde_json::to_value(&**r).ok())
            .collect()
    }

    fn metrics_text(&self) -> String {
        let recorder = self.gateway.recorder();
        let limit = f64::from(self.gateway.snapshot().max_connections_per_destination());
        for (source, count) in self.gateway.busiest_per_source() {
            let labels = crate::gateway::EgressLabels {
                egress_ip: source.to_string(),
            };
            recorder
                .metrics
                .port_budget
                .get_or_create(&labels)
                .set(f64::from(count) / limit);
        }
        if !self.geo.is_empty() {
            let report = egress_geo::check(&self.source.current_config(), &self.geo);
            self.record_geo_check(&report);
        }
        recorder.metrics.encode()
    }

    fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    fn geo_databases(&self) -> &[egress_geo::GeoDatabase] {
        &self.geo
    }

    fn record_geo_check(&self, report: &egress_geo::GeoCheckReport) {
        let mismatches = i64::try_from(report.mismatches).unwrap_or(i64::MAX);
        self.gateway
            .recorder()
            .metrics
            .geo_mismatches
            .set(mismatches);
    }

    fn revision_updates(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.source.applied())
    }

    fn traffic_history(&self) -> TrafficHistoryView {
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .view()
    }
}

impl NodeHandle {
    /// Takes one sample of the traffic history every interval, aligned to the clock.
    async fn sample_history(&self) {
        let mut tick = tokio::time::interval(Duration::from_secs(INTERVAL_SECS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let activity = self.gateway.recorder().take_activity();
            self.history
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(now, &activity);
        }
    }
}

/// Serves the admin API until the process stops.
pub async fn serve_admin(
    addr: SocketAddr,
    node: Arc<NodeHandle>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let store = Arc::clone(&node.source.store);
    let pac = axum::Router::new()
        .route("/pac/{endpoint}", axum::routing::get(pac_file))
        .with_state(Arc::clone(&node));
    let sampler = Arc::clone(&node);
    let app = egress_admin::router(store, node as Arc<dyn Node>).merge(pac);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} (admin API): {e}"))?;
    eprintln!("egressd: admin API listening on {addr}");
    // One task for both, so that aborting it releases every hold on the gateway.
    Ok(tokio::spawn(async move {
        tokio::select! {
            served = axum::serve(listener, app) => {
                if let Err(e) = served {
                    eprintln!("egressd: admin API stopped: {e}");
                }
            }
            () = sampler.sample_history() => {}
        }
    }))
}

#[derive(Debug, serde::Deserialize)]
struct PacQuery {
    account: Option<String>,
    host: Option<String>,
}

/// `GET /pac/{endpoint}`: the PAC file of a proxy endpoint (no token: browsers fetch it). The
/// proxy host is `?host=`, else the host this request was sent to.
async fn pac_file(
    axum::extract::State(node): axum::extract::State<Arc<NodeHandle>>,
    axum::extract::Path(endpoint): axum::extract::Path<String>,
    axum::extract::Query(query): axum::extract::Query<PacQuery>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let host = query.host.or_else(|| {
        let h = headers.get(header::HOST)?.to_str().ok()?;
        // Drop the admin port: the PAC names the proxy endpoint's own port.
        Some(match h.rsplit_once(':') {
            Some((name, port))
                if port.chars().all(|c| c.is_ascii_digit()) && !name.ends_with(':') =>
            {
                name.to_string()
            }
            _ => h.to_string(),
        })
    });
    let Some(host) = host else {
        return (StatusCode::BAD_REQUEST, "give ?host= or a Host header\n").into_response();
    };
    let config = node.source.current_config();
    match egress_onramp::pac::pac_file(&config, query.account.as_deref(), &endpoint, &host) {
        Ok(text) => (
            [(header::CONTENT_TYPE, "application/x-ns-proxy-autoconfig")],
            text,
        )
            .into_response(),
        Err(e @ egress_onramp::pac::PacError::UnknownEndpoint(_)) => {
            (StatusCode::NOT_FOUND, format!("{e}\n")).into_response()
        }
        Err(e) => (StatusCode::CONFLICT, format!("{e}\n")).into_response(),
    }
}
