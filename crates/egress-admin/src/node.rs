//! The boundary with the running node: what the API reads from it and asks of it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the API needs from the running node. Implemented by the egressd binary.
pub trait Node: Send + Sync + 'static {
    /// Compiles `config` (already validated and committed as `revision`) and swaps it in.
    fn apply(&self, revision: u64, config: &egress_model::Config) -> Result<(), String>;
    /// The running snapshot (for explain).
    fn snapshot(&self) -> egress_policy::Snapshot;
    /// Node id, location, mode, running revision, start time, listeners.
    fn status(&self) -> NodeStatus;
    /// Live connections (JSON objects with the log record's field names, plus `age_ms`), newest
    /// first.
    fn live_connections(&self, account: Option<&str>, limit: usize) -> Vec<serde_json::Value>;
    /// The busiest (egress address, destination) pairs.
    fn port_usage(&self, top: usize) -> Vec<PortUsageView>;
    /// Recent connection log records (bounded ring), newest first, filtered.
    fn recent_logs(&self, filter: &LogFilter, limit: usize) -> Vec<serde_json::Value>;
    /// Prometheus text exposition.
    fn metrics_text(&self) -> String;
    /// Whether the node serves traffic (listeners up, a revision applied).
    fn ready(&self) -> bool;
    /// The geolocation databases the node was started with (`--geo-mmdb`); none by default.
    fn geo_databases(&self) -> &[egress_geo::GeoDatabase] {
        &[]
    }
    /// Told the result of each geolocation check, for its metrics; ignored by default.
    fn record_geo_check(&self, report: &egress_geo::GeoCheckReport) {
        let _ = report;
    }
    /// The revision this process runs, updated as it applies new ones; `None` when the node
    /// cannot tell (the long poll then waits on the store).
    fn revision_updates(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// Connections and bytes per egress address over the last hour, from the node's bounded
    /// in-memory history. A node that keeps none answers an empty history.
    fn traffic_history(&self) -> TrafficHistoryView {
        TrafficHistoryView::default()
    }
}

/// Samples of traffic per egress address, oldest first, at a fixed interval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrafficHistoryView {
    /// Seconds between two samples.
    pub interval_secs: u32,
    /// One series per egress address seen in the window.
    pub series: Vec<EgressSeries>,
}

/// The samples of one egress address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EgressSeries {
    /// The egress (source) address.
    pub egress_ip: String,
    /// Oldest first.
    pub samples: Vec<TrafficSample>,
}

/// One sample of one egress address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrafficSample {
    /// When it was taken, RFC 3339 UTC.
    pub at: String,
    /// Connections open from the address at that moment.
    pub connections: u32,
    /// Bytes (both directions) of the address's connections that ended since the sample before.
    pub bytes: u64,
}

/// Who the node is and what it runs.
///
/// Output types of the node accept unknown fields when read back, so that a client reads a newer
/// node's answers (and so that `StatusView` can extend this one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeStatus {
    /// The node's id (`[[nodes]] id`).
    pub node_id: String,
    /// The location it runs in.
    pub location: String,
    /// Where its configuration comes from.
    pub mode: Mode,
    /// The configuration revision it runs (0 before the first).
    pub revision: u64,
    /// When the process started, RFC 3339 UTC.
    pub started_at: String,
    /// The addresses it listens on (proxy endpoints, admin API).
    pub listeners: Vec<String>,
    /// The fleet peers it probes (empty when the node runs no fleet listener).
    #[serde(default)]
    pub fleet_peers: Vec<FleetPeerView>,
    /// Locations with no answering node, as this node sees them: new connections avoid them.
    #[serde(default)]
    pub locations_down: Vec<String>,
}

/// A fleet peer and whether it answers health probes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FleetPeerView {
    /// The peer's node id.
    pub node_id: String,
    /// Its location.
    pub location: String,
    /// Its fleet listener.
    pub fleet_address: String,
    /// Whether its last health probes answered.
    pub up: bool,
}

/// Where the node's configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mode {
    /// A TOML file is the source of truth; the API refuses writes.
    File {
        /// The file.
        path: String,
    },
    /// The store is the source of truth; the API writes revisions.
    Store {
        /// The store's data directory.
        data_dir: String,
    },
    /// Control planes are the source of truth (`serve --control-plane`); the API refuses
    /// writes and the node keeps the last revision it received on disk.
    Subscribed {
        /// The control planes' admin API addresses, in the order they are tried.
        control_planes: Vec<String>,
    },
}

/// Concurrent connections from one egress address to one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PortUsageView {
    /// The egress (source) address.
    pub egress_ip: String,
    /// The destination address and port.
    pub destination: String,
    /// Connections open now.
    pub connections: u32,
    /// The budget (`max_connections_per_destination`).
    pub limit: u32,
}

/// Which recent log records to return; every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogFilter {
    /// Account id.
    pub account: Option<String>,
    /// User name.
    pub user: Option<String>,
    /// Policy id.
    pub policy: Option<String>,
    /// Egress (source) address.
    pub egress_ip: Option<String>,
    /// Close reason code.
    pub close_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_is_tagged_by_kind() {
        let file = Mode::File {
            path: "/etc/egressd.toml".into(),
        };
        let json = serde_json::to_value(&file).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"kind": "file", "path": "/etc/egressd.toml"})
        );
        let store: Mode =
            serde_json::from_value(serde_json::json!({"kind": "store", "data_dir": "/var/lib/e"}))
                .expect("parses");
        assert_eq!(
            store,
            Mode::Store {
                data_dir: "/var/lib/e".into()
            }
        );
    }
}
