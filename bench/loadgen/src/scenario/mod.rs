//! The scenarios of the peer benchmark; each returns one [`Record`].

mod bulk;
mod churn;
mod connect_rate;
mod idle;
mod keepalive;
mod latency;
mod udp_echo;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

pub use bulk::bulk;
pub use churn::churn;
pub use connect_rate::connect_rate;
pub use idle::{idle, IdleOptions};
pub use keepalive::keepalive_rps;
pub use latency::latency;
pub use udp_echo::{udp_echo, UdpEchoOptions};

use crate::client::{OriginAddr, Route};
use crate::probe::Probe;
use crate::record::Record;

/// What every scenario is given.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// How to reach the origin.
    pub route: Route,
    /// Origins, used in turn.
    pub origins: Vec<OriginAddr>,
    /// The proxy's processes.
    pub probe: Arc<Probe>,
    /// The record, with scenario, label, mode and run filled in.
    pub base: Record,
}

impl Ctx {
    /// The `i`-th origin, round robin.
    pub fn origin(&self, i: usize) -> OriginAddr {
        self.origins[i % self.origins.len()]
    }
}

/// A measured window: its start, its deadline and the proxy's CPU time at the start.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    start: Instant,
    /// Work started after this is not counted.
    pub deadline: Instant,
    cpu0: Option<f64>,
}

impl Window {
    /// Opens a window of `length` now.
    pub fn open(probe: &Probe, length: Duration) -> Window {
        let cpu0 = probe.cpu_seconds();
        let start = Instant::now();
        Window {
            start,
            deadline: start + length,
            cpu0,
        }
    }

    /// Whether the window is still open.
    pub fn running(&self) -> bool {
        Instant::now() < self.deadline
    }

    /// Time since the window opened.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Closes it: (elapsed, proxy CPU seconds spent in it).
    pub fn close(&self, probe: &Probe) -> (Duration, Option<f64>) {
        let elapsed = self.start.elapsed();
        let cpu = probe
            .cpu_seconds()
            .zip(self.cpu0)
            .map(|(now, then)| (now - then).max(0.0));
        (elapsed, cpu)
    }
}

/// A failed operation waits this long before the next, so a refusing proxy is not spun on.
pub const ERROR_BACKOFF: Duration = Duration::from_millis(2);
