//! Configuration for nodes that do not hold the store: a long poll that answers with the next
//! revision as soon as one exists, and the revision each node last said it runs.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use egress_model::Config;
use egress_store::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::{bounded, Body, Query};
use crate::state::AppState;

/// The longest a node's poll may wait, in seconds.
const MAX_WAIT_SECS: usize = 60;

/// A node's poll for the next revision.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NextQuery {
    /// The revision the node runs (0 when it runs none yet).
    #[serde(default)]
    after: u64,
    /// Seconds to wait for a newer revision before answering 204 (default 25, at most 60).
    wait_secs: Option<usize>,
    /// The asking node's id: recorded with `after` as the revision it runs.
    node: Option<String>,
}

/// A revision as nodes receive it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NodeRevision {
    /// The control plane's revision number.
    pub revision: u64,
    /// The whole configuration.
    pub config: Config,
}

/// What a node last reported to this control-plane replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeReportView {
    /// The node's id.
    pub node_id: String,
    /// The revision it runs.
    pub revision: u64,
    /// When it last asked, RFC 3339 UTC.
    pub reported_at: String,
}

/// The last report of each node that polled this replica.
#[derive(Debug, Default)]
pub(crate) struct NodeReports(Mutex<BTreeMap<String, (u64, Timestamp)>>);

/// What one node sees of its peers, sent every probe interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthReport {
    /// The reporting node.
    pub node_id: String,
    /// Each peer it probes and whether it answers.
    pub peers: Vec<PeerHealth>,
}

/// One peer in a [`HealthReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerHealth {
    /// The peer's node id.
    pub node_id: String,
    /// Its location.
    pub location: String,
    /// Whether it answered the reporter's last probes.
    pub up: bool,
}

/// The fleet's view, from every fresh report this replica holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FleetHealthView {
    /// Locations none of whose reported nodes answers any reporter.
    pub locations_down: Vec<String>,
    /// Nodes that reported within the freshness window.
    pub reporters: Vec<String>,
}

/// Reports older than this no longer count.
const REPORT_FRESH: Duration = Duration::from_secs(5);

/// The latest health report of each node.
#[derive(Debug, Default)]
pub(crate) struct HealthReports(Mutex<BTreeMap<String, (HealthReport, Instant)>>);

impl HealthReports {
    fn record(&self, report: HealthReport) -> FleetHealthView {
        let mut reports = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        reports.insert(report.node_id.clone(), (report, Instant::now()));
        reports.retain(|_, (_, at)| at.elapsed() < REPORT_FRESH);
        fleet_view(reports.values().map(|(report, _)| report))
    }

    fn view(&self) -> FleetHealthView {
        let reports = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        fleet_view(
            reports
                .values()
                .filter(|(_, at)| at.elapsed() < REPORT_FRESH)
                .map(|(report, _)| report),
        )
    }
}

/// A location is down when it has reported nodes and no reporter reaches any of them; one
/// reporter that does (the others are partitioned from it) keeps it up for the fleet.
fn fleet_view<'a>(reports: impl Iterator<Item = &'a HealthReport>) -> FleetHealthView {
    let mut locations: BTreeMap<&str, bool> = BTreeMap::new();
    let mut reporters = Vec::new();
    for report in reports {
        reporters.push(report.node_id.clone());
        for peer in &report.peers {
            *locations.entry(peer.location.as_str()).or_insert(false) |= peer.up;
        }
    }
    // A node that reports is up, and so is its location.
    FleetHealthView {
        locations_down: locations
            .into_iter()
            .filter(|(_, up)| !up)
            .map(|(code, _)| code.to_owned())
            .collect(),
        reporters,
    }
}

impl NodeReports {
    fn record(&self, node: &str, revision: u64) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node.to_owned(), (revision, Timestamp::now()));
    }

    fn views(&self) -> Vec<NodeReportView> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(node, (revision, at))| NodeReportView {
                node_id: node.clone(),
                revision: *revision,
                reported_at: at.to_string(),
            })
            .collect()
    }
}

/// Answers with the latest revision once it is newer than `after`, or 204 after `wait_secs`.
#[utoipa::path(get, path = "/v1/config/next", tag = "control plane", params(NextQuery),
    responses(
        (status = 200, description = "A revision newer than `after`", body = NodeRevision),
        (status = 204, description = "No newer revision within `wait_secs`")))]
pub(crate) async fn next_revision(
    State(state): State<AppState>,
    Query(query): Query<NextQuery>,
) -> Result<Response, ApiError> {
    let wait = bounded("wait_secs", query.wait_secs, 25, MAX_WAIT_SECS)?;
    if let Some(node) = &query.node {
        state.reports.record(node, query.after);
    }
    let deadline = Instant::now() + Duration::from_secs(wait as u64);
    let mut updates = state.node.revision_updates();
    loop {
        if let Some(latest) = state.latest().await? {
            if latest.number > query.after {
                let document = NodeRevision {
                    revision: latest.number,
                    config: latest.config.clone(),
                };
                return Ok(axum::Json(document).into_response());
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        match updates.as_mut() {
            // This process applies every new revision: wake with it.
            Some(applied) => {
                let _ = tokio::time::timeout(left, applied.changed()).await;
            }
            None => {
                let after = query.after;
                state
                    .blocking(move |store| store.wait_for_newer(after, left))
                    .await?;
            }
        }
    }
}

/// The nodes that polled this replica and the revision each runs.
#[utoipa::path(get, path = "/v1/fleet/nodes", tag = "control plane",
    responses((status = 200, description = "One entry per node, by id", body = Vec<NodeReportView>)))]
pub(crate) async fn node_reports(State(state): State<AppState>) -> axum::Json<Vec<NodeReportView>> {
    axum::Json(state.reports.views())
}

/// A node reports what it sees of its peers; the answer is the fleet's view.
#[utoipa::path(post, path = "/v1/fleet/health-reports", tag = "control plane",
    request_body = HealthReport,
    responses((status = 200, description = "The fleet's view after this report", body = FleetHealthView)))]
pub(crate) async fn report_health(
    State(state): State<AppState>,
    Body(report): Body<HealthReport>,
) -> axum::Json<FleetHealthView> {
    axum::Json(state.health.record(report))
}

/// The fleet's view of location health, from the nodes' fresh reports.
#[utoipa::path(get, path = "/v1/fleet/health", tag = "control plane",
    responses((status = 200, description = "Locations down for the fleet", body = FleetHealthView)))]
pub(crate) async fn fleet_health(State(state): State<AppState>) -> axum::Json<FleetHealthView> {
    axum::Json(state.health.view())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(node: &str, peers: &[(&str, &str, bool)]) -> HealthReport {
        HealthReport {
            node_id: node.into(),
            peers: peers
                .iter()
                .map(|(id, location, up)| PeerHealth {
                    node_id: (*id).into(),
                    location: (*location).into(),
                    up: *up,
                })
                .collect(),
        }
    }

    #[test]
    fn a_location_is_down_only_when_no_reporter_reaches_it() {
        let both_down = [
            report("lax-1", &[("fra-1", "fra", false), ("nyc-1", "nyc", true)]),
            report("nyc-1", &[("fra-1", "fra", false), ("lax-1", "lax", true)]),
        ];
        assert_eq!(fleet_view(both_down.iter()).locations_down, vec!["fra"]);
        // lax is cut from fra but nyc reaches it: fra is up for the fleet.
        let partition = [
            report("lax-1", &[("fra-1", "fra", false), ("nyc-1", "nyc", true)]),
            report("nyc-1", &[("fra-1", "fra", true), ("lax-1", "lax", true)]),
        ];
        assert!(fleet_view(partition.iter()).locations_down.is_empty());
    }

    #[test]
    fn stale_reports_stop_counting() {
        let reports = HealthReports::default();
        reports.record(report("lax-1", &[("fra-1", "fra", false)]));
        assert_eq!(reports.view().locations_down, vec!["fra"]);
        reports
            .0
            .lock()
            .expect("lock")
            .values_mut()
            .for_each(|(_, at)| *at -= REPORT_FRESH);
        assert!(reports.view().locations_down.is_empty());
        assert!(reports.view().reporters.is_empty());
    }
}
