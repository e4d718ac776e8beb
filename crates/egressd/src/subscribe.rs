//! Subscribed mode (`serve --control-plane URL…`): the node holds no store of record; it polls a
//! control plane for each new revision (`GET /v1/config/next`, a long poll), applies it, and
//! keeps it in its local store so it starts from the last good revision when no control plane
//! answers.

use std::sync::Arc;
use std::time::Duration;

use egress_model::Config;
use egress_store::ConfigStore;

use crate::api_client::ApiClient;
use crate::gateway::EgressGateway;
use crate::source::Source;

/// How long one poll waits for a newer revision at the control plane.
const WAIT_SECS: u64 = 25;
/// Pause before trying the next control plane after a failure.
const RETRY: Duration = Duration::from_millis(500);
/// The local revision's comment that names the control plane's revision number.
const CACHED_PREFIX: &str = "control-plane revision ";

/// Where the node subscribes.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Control-plane admin API addresses, tried in turn.
    pub control_planes: Vec<String>,
    /// An operator token of the control plane (read scope is enough).
    pub token: Option<String>,
    /// This node's id, reported with each poll.
    pub node: Option<String>,
}

/// A revision received from a control plane.
#[derive(Debug)]
pub struct Received {
    pub revision: u64,
    pub config: Config,
}

impl Subscription {
    /// Asks control plane `index` for a revision newer than `after`, waiting up to `wait_secs`.
    /// Blocking.
    pub fn next(
        &self,
        index: usize,
        after: u64,
        wait_secs: u64,
    ) -> Result<Option<Received>, String> {
        let url = &self.control_planes[index % self.control_planes.len()];
        let client = ApiClient::new(url, self.token.clone())?;
        let node = self
            .node
            .as_deref()
            .map(|n| format!("&node={}", crate::api_client::segment(n)))
            .unwrap_or_default();
        let answer = client.call(
            "GET",
            &format!("/v1/config/next?after={after}&wait_secs={wait_secs}{node}"),
            None,
        )?;
        if answer.status == 204 {
            return Ok(None);
        }
        let revision = answer.body["revision"]
            .as_u64()
            .ok_or_else(|| format!("{url}: the answer names no revision"))?;
        let config: Config = serde_json::from_value(answer.body["config"].clone())
            .map_err(|e| format!("{url}: revision {revision} does not parse: {e}"))?;
        Ok(Some(Received { revision, config }))
    }

    /// Sends this node's health report to control plane `index`; the locations the fleet's
    /// view marks down. Blocking.
    pub fn report_health(
        &self,
        index: usize,
        report: &serde_json::Value,
    ) -> Result<Vec<String>, String> {
        let url = &self.control_planes[index % self.control_planes.len()];
        let answer = ApiClient::new(url, self.token.clone())?.call(
            "POST",
            "/v1/fleet/health-reports",
            Some(report),
        )?;
        Ok(answer.body["locations_down"]
            .as_array()
            .map(|codes| {
                codes
                    .iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The first revision at start: from any control plane that answers at once.
    pub fn first(&self) -> Result<Received, String> {
        let mut errors = Vec::new();
        for index in 0..self.control_planes.len() {
            match self.next(index, 0, 0) {
                Ok(Some(received)) => return Ok(received),
                Ok(None) => errors.push(format!(
                    "{}: holds no revision yet",
                    self.control_planes[index]
                )),
                Err(e) => errors.push(e),
            }
        }
        Err(errors.join("; "))
    }
}

/// The control plane's revision a local revision caches, if it is one.
pub fn cached_revision(comment: &str) -> Option<u64> {
    comment.strip_prefix(CACHED_PREFIX)?.parse().ok()
}

/// Keeps a received revision in the local store (the node's copy on disk).
pub fn cache(store: &dyn ConfigStore, received: &Received) -> Result<(), String> {
    store
        .import(
            &received.config,
            "control-plane",
            &format!("{CACHED_PREFIX}{}", received.revision),
        )
        .map(|_| ())
        .map_err(|e| format!("cannot keep revision {} on disk: {e}", received.revision))
}

/// Follows the control planes until told to stop: each new revision is applied, then kept on
/// disk; a control plane that fails hands over to the next.
pub async fn follow(
    source: Arc<Source>,
    gateway: Arc<EgressGateway>,
    subscription: Subscription,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut index = 0;
    let mut failing = false;
    while !*stop.borrow() {
        let (s, after) = (subscription.clone(), source.revision());
        let polled = tokio::task::spawn_blocking(move || s.next(index, after, WAIT_SECS)).await;
        let url = &subscription.control_planes[index % subscription.control_planes.len()];
        match polled {
            Ok(Ok(Some(received))) => {
                if failing {
                    eprintln!("egressd: control plane {url} answers");
                }
                failing = false;
                let (source, gateway) = (Arc::clone(&source), Arc::clone(&gateway));
                let _ = tokio::task::spawn_blocking(move || source.take(&gateway, received)).await;
            }
            Ok(Ok(None)) => failing = false,
            Ok(Err(e)) => {
                if !failing {
                    eprintln!("egressd: control plane: {e}; trying the next in {RETRY:?}");
                }
                failing = true;
                index += 1;
                tokio::time::sleep(RETRY).await;
            }
            Err(e) => {
                eprintln!("egressd: the control-plane poll failed: {e}");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
