//! Counting outcomes and the one JSON line each run prints.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;

/// Outcomes of one worker (or all, once merged).
#[derive(Debug, Default)]
pub struct Tally {
    /// Successful operations.
    pub ops: u64,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// The first failure's message, for the operator.
    pub first_error: Option<String>,
    /// Latency of each successful operation, µs.
    pub latencies_us: Vec<u32>,
}

impl Tally {
    /// Counts a success that took `took`.
    pub fn ok(&mut self, took: Duration) {
        self.ops += 1;
        self.latencies_us
            .push(took.as_micros().min(u128::from(u32::MAX)) as u32);
    }

    /// Counts a failure.
    pub fn err(&mut self, e: &LoadError) {
        *self.errors.entry(e.kind()).or_insert(0) += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }

    /// Adds another worker's outcomes.
    pub fn merge(&mut self, other: Tally) {
        self.ops += other.ops;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_insert(0) += v;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latencies_us.extend(other.latencies_us);
    }

    /// Number of failures.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// (p50, p99, max) in µs, or `None` with no sample.
    pub fn percentiles(&mut self) -> Option<(f64, f64, f64)> {
        self.latencies_us.sort_unstable();
        let v = &self.latencies_us;
        let at = |p: f64| -> f64 {
            let i = ((v.len() as f64 - 1.0) * p).round() as usize;
            f64::from(v[i.min(v.len() - 1)])
        };
        (!v.is_empty()).then(|| (at(0.50), at(0.99), at(1.0)))
    }
}

/// Memory per idle tunnel at one count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdleStep {
    /// Tunnels open.
    pub tunnels: u64,
    /// Growth of the proxy's PSS since before the first tunnel, KiB.
    pub pss_kib: Option<f64>,
    /// Growth of kernel memory machine-wide (all sockets: client, proxy and origin), KiB.
    pub kernel_kib: Option<f64>,
    /// `pss_kib` per tunnel.
    pub pss_kib_per_tunnel: Option<f64>,
    /// `kernel_kib` per tunnel.
    pub kernel_kib_per_tunnel: Option<f64>,
}

/// One run's result: the JSON line printed on standard output.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Record {
    /// Scenario name (the subcommand).
    pub scenario: String,
    /// What was measured (`direct`, `egressd-connect`, `squid`, …), from `--label`.
    pub label: String,
    /// How the load generator spoke to it.
    pub mode: String,
    /// Which repetition, from `--run`.
    pub run: u32,
    /// Concurrent workers, tunnels or connections.
    pub concurrency: u64,
    /// Successful operations in the measured window.
    pub ops: u64,
    /// Failed operations.
    pub errors: u64,
    /// Failures by kind.
    pub error_kinds: BTreeMap<String, u64>,
    /// The first failure, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Length of the measured window, s.
    pub duration_s: f64,
    /// Successful operations per second.
    pub rate: f64,
    /// Median latency of an operation, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_us: Option<f64>,
    /// 99th percentile, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_us: Option<f64>,
    /// Slowest, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_us: Option<f64>,
    /// The proxy's CPU time in the window, s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_cpu_s: Option<f64>,
    /// The proxy's CPU time per successful operation, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_cpu_us_per_op: Option<f64>,
    /// bulk: body bytes moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// bulk: throughput.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gbit_s: Option<f64>,
    /// bulk: proxy CPU seconds per GiB moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_cpu_s_per_gib: Option<f64>,
    /// latency: median of a new tunnel (connect, handshake, one GET), µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_p50_us: Option<f64>,
    /// latency: 99th percentile of a new tunnel, µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_p99_us: Option<f64>,
    /// idle: memory at each count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<IdleStep>,
    /// idle: tunnels that still answered after the hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alive_after_hold: Option<u64>,
    /// churn: connections started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempted: Option<u64>,
    /// Added by `bench/run`: figures read outside the load generator (e.g. log close reasons).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Record {
    /// Fills counts, rate, percentiles and CPU per operation from a merged tally.
    pub fn fill(&mut self, mut tally: Tally, window: Duration, cpu_s: Option<f64>) {
        self.ops = tally.ops;
        self.errors = tally.error_count();
        self.duration_s = window.as_secs_f64();
        self.rate = tally.ops as f64 / window.as_secs_f64().max(1e-9);
        if let Some((p50, p99, max)) = tally.percentiles() {
            (self.p50_us, self.p99_us, self.max_us) = (Some(p50), Some(p99), Some(max));
        }
        self.proxy_cpu_s = cpu_s;
        if tally.ops > 0 {
            self.proxy_cpu_us_per_op = cpu_s.map(|s| s * 1e6 / tally.ops as f64);
        }
        self.first_error = tally.first_error.take();
        self.error_kinds = std::mem::take(&mut tally.errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_sorted_samples() {
        let mut t = Tally::default();
        for us in (1..=100).rev() {
            t.ok(Duration::from_micros(us));
        }
        assert_eq!(t.percentiles(), Some((51.0, 99.0, 100.0)));
        assert_eq!(Tally::default().percentiles(), None);
    }
}
