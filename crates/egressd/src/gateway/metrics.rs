//! Prometheus metrics of the node (text exposition at the admin API's `/metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use super::ConnectionRecord;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpenedLabels {
    pub account: String,
    pub policy: String,
    pub egress_ip: String,
    pub egress_location: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClosedLabels {
    pub account: String,
    pub close_reason: String,
    pub ingress_location: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccountLabels {
    pub account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BytesLabels {
    pub account: String,
    pub egress_ip: String,
    pub direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EgressLabels {
    pub egress_ip: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    pub reason: &'static str,
}

/// Every metric the node exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    opened: Family<OpenedLabels, Counter>,
    closed: Family<ClosedLabels, Counter>,
    active: Family<AccountLabels, Gauge>,
    bytes: Family<BytesLabels, Counter>,
    pub port_budget: Family<EgressLabels, Gauge<f64, AtomicU64>>,
    pub decision_seconds: Histogram,
    pub revision: Gauge,
    pub reload_failures: Counter,
    pub geo_mismatches: Gauge,
    pub udp_dropped: Family<DropLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("egressd");
        let m = Metrics {
            opened: Family::default(),
            closed: Family::default(),
            active: Family::default(),
            bytes: Family::default(),
            port_budget: Family::default(),
            decision_seconds: Histogram::new(exponential_buckets(1e-7, 4.0, 10)),
            revision: Gauge::default(),
            reload_failures: Counter::default(),
            geo_mismatches: Gauge::default(),
            udp_dropped: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections_opened",
            "Connections opened (dialled)",
            m.opened.clone(),
        );
        registry.register(
            "connections_closed",
            "Connections ended, refused ones included, by close reason",
            m.closed.clone(),
        );
        registry.register(
            "connections_active",
            "Connections open now",
            m.active.clone(),
        );
        registry.register("bytes", "Bytes relayed", m.bytes.clone());
        registry.register(
            "port_budget_utilisation_ratio",
            "Per egress address: the highest share of max_connections_per_destination used towards one destination",
            m.port_budget.clone(),
        );
        registry.register(
            "decision_seconds",
            "Time decide() takes",
            m.decision_seconds.clone(),
        );
        registry.register(
            "config_revision",
            "Configuration revision running",
            m.revision.clone(),
        );
        registry.register(
            "config_reload_failures",
            "Configurations refused at reload",
            m.reload_failures.clone(),
        );
        registry.register(
            "geo_mismatches",
            "Egress addresses x geolocation databases (--geo-mmdb) that place the address elsewhere than its location",
            m.geo_mismatches.clone(),
        );
        registry.register(
            "udp_datagrams_dropped",
            "Client datagrams of UDP associations dropped before sending, by reason (fragmented, malformed, foreign_source, unknown_context, foreign_target)",
            m.udp_dropped.clone(),
        );
        Metrics { registry, ..m }
    }
}

fn or_dash(v: &Option<impl ToString>) -> String {
    v.as_ref().map_or_else(|| "-".into(), ToString::to_string)
}

impl Metrics {
    pub fn opened(&self, r: &ConnectionRecord) {
        let labels = OpenedLabels {
            account: or_dash(&r.account),
            policy: or_dash(&r.policy_name),
            egress_ip: or_dash(&r.egress_ip),
            egress_location: or_dash(&r.egress_location),
        };
        self.opened.get_or_create(&labels).inc();
        self.active
            .get_or_create(&AccountLabels {
                account: or_dash(&r.account),
            })
            .inc();
    }

    /// A connection that was opened ended.
    pub fn ended(&self, r: &ConnectionRecord) {
        self.active
            .get_or_create(&AccountLabels {
                account: or_dash(&r.account),
            })
            .dec();
        for (direction, n) in [
            ("up", r.bytes_client_to_upstream),
            ("down", r.bytes_upstream_to_client),
        ] {
            let labels = BytesLabels {
                account: or_dash(&r.account),
                egress_ip: or_dash(&r.egress_ip),
                direction,
            };
            self.bytes.get_or_create(&labels).inc_by(n);
        }
        self.closed_only(r);
    }

    /// Any connection ended (refused before opening, or opened and ended).
    pub fn closed_only(&self, r: &ConnectionRecord) {
        let labels = ClosedLabels {
            account: or_dash(&r.account),
            close_reason: r.close_reason.to_string(),
            ingress_location: r.ingress_location.to_string(),
        };
        self.closed.get_or_create(&labels).inc();
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            out.push_str(&format!("# encoding failed: {e}\n"));
        }
        out
    }
}
