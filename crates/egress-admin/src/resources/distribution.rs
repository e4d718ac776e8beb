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
use crate::extract::{bounded, Query};
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
