//! A bounded in-memory history of traffic per egress address: one sample every
//! [`INTERVAL_SECS`] for the last hour, for at most [`MAX_SERIES`] addresses, so its memory is
//! fixed however long the node runs. The dashboard draws its charts from it.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use egress_admin::{EgressSeries, TrafficHistoryView, TrafficSample};

/// Seconds between two samples.
pub const INTERVAL_SECS: u64 = 10;
/// Samples kept per address: one hour.
pub const SLOTS: usize = 3600 / INTERVAL_SECS as usize;
/// Addresses kept; beyond this, the least busy series makes room for a busier one.
pub const MAX_SERIES: usize = 64;

/// What one egress address did in one interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub egress_ip: String,
    /// Connections open at the sample.
    pub connections: u32,
    /// Bytes of connections that ended during the interval.
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    /// Seconds since the Unix epoch.
    at: u64,
    connections: u32,
    bytes: u64,
}

#[derive(Debug)]
struct Series {
    egress_ip: String,
    samples: VecDeque<Sample>,
}

impl Series {
    fn weight(&self) -> u64 {
        self.samples
            .iter()
            .map(|s| u64::from(s.connections).saturating_add(s.bytes))
            .fold(0, u64::saturating_add)
    }

    fn idle(&self) -> bool {
        self.samples
            .iter()
            .all(|s| s.connections == 0 && s.bytes == 0)
    }

    fn push(&mut self, sample: Sample) {
        if self.samples.len() == SLOTS {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }
}

/// The history; the caller takes a sample every [`INTERVAL_SECS`].
#[derive(Debug, Default)]
pub struct TrafficHistory {
    series: Vec<Series>,
}

impl TrafficHistory {
    /// Adds one sample at `at` (seconds since the epoch) to every series: the address's activity,
    /// or zero for a known address that did nothing. A series idle for the whole window is
    /// dropped.
    pub fn record(&mut self, at: u64, observed: &[Activity]) {
        for series in &mut self.series {
            let seen = observed.iter().find(|a| a.egress_ip == series.egress_ip);
            series.push(Sample {
                at,
                connections: seen.map_or(0, |a| a.connections),
                bytes: seen.map_or(0, |a| a.bytes),
            });
        }
        for activity in observed {
            if self
                .series
                .iter()
                .any(|s| s.egress_ip == activity.egress_ip)
            {
                continue;
            }
            let sample = Sample {
                at,
                connections: activity.connections,
                bytes: activity.bytes,
            };
            if sample.connections == 0 && sample.bytes == 0 {
                continue;
            }
            if self.series.len() == MAX_SERIES {
                let weight = u64::from(sample.connections).saturating_add(sample.bytes);
                let (quietest, least) = self
                    .series
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (i, s.weight()))
                    .min_by_key(|(_, w)| *w)
                    .expect("MAX_SERIES is not zero");
                if least >= weight {
                    continue;
                }
                self.series.swap_remove(quietest);
            }
            let mut samples = VecDeque::with_capacity(SLOTS);
            samples.push_back(sample);
            self.series.push(Series {
                egress_ip: activity.egress_ip.clone(),
                samples,
            });
        }
        self.series.retain(|s| !s.idle());
        self.series.sort_by(|a, b| a.egress_ip.cmp(&b.egress_ip));
    }

    /// The API's view, samples oldest first, series by address.
    pub fn view(&self) -> TrafficHistoryView {
        let series = self
            .series
            .iter()
            .map(|s| EgressSeries {
                egress_ip: s.egress_ip.clone(),
                samples: s
                    .samples
                    .iter()
                    .map(|sample| TrafficSample {
                        at: crate::gateway::timestamp(
                            SystemTime::UNIX_EPOCH + Duration::from_secs(sample.at),
                        ),
                        connections: sample.connections,
                        bytes: sample.bytes,
                    })
                    .collect(),
            })
            .collect();
        TrafficHistoryView {
            interval_secs: INTERVAL_SECS as u32,
            series,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(ip: &str, connections: u32, bytes: u64) -> Activity {
        Activity {
            egress_ip: ip.into(),
            connections,
            bytes,
        }
    }

    #[test]
    fn keeps_exactly_the_last_hour_of_samples() {
        let mut history = TrafficHistory::default();
        let start = 1_800_000_000;
        for i in 0..(SLOTS as u64 + 40) {
            history.record(start + i * INTERVAL_SECS, &[activity("203.0.113.10", 1, i)]);
        }
        let view = history.view();
        assert_eq!(view.interval_secs, 10);
        assert_eq!(view.series.len(), 1);
        let samples = &view.series[0].samples;
        assert_eq!(samples.len(), SLOTS);
        // The 40 oldest fell out; the newest is last.
        assert_eq!(samples[0].bytes, 40);
        assert_eq!(samples[SLOTS - 1].bytes, SLOTS as u64 + 39);
        assert_eq!(samples[0].at, "2027-01-15T08:06:40.000Z");
    }

    #[test]
    fn an_idle_address_gets_zero_samples_then_leaves_after_an_hour() {
        let mut history = TrafficHistory::default();
        history.record(100, &[activity("192.0.2.10", 2, 500)]);
        history.record(110, &[]);
        let view = history.view();
        let samples = &view.series[0].samples;
        assert_eq!(
            samples
                .iter()
                .map(|s| (s.connections, s.bytes))
                .collect::<Vec<_>>(),
            vec![(2, 500), (0, 0)]
        );
        for i in 0..SLOTS as u64 {
            history.record(120 + i * 10, &[]);
        }
        assert!(
            history.view().series.is_empty(),
            "idle for an hour: dropped"
        );
        // Silence from an address never seen does not open a series.
        history.record(9_000, &[activity("192.0.2.11", 0, 0)]);
        assert!(history.view().series.is_empty());
    }

    #[test]
    fn holds_at_most_max_series_and_keeps_the_busiest() {
        let mut history = TrafficHistory::default();
        let quiet: Vec<Activity> = (0..MAX_SERIES)
            .map(|i| activity(&format!("10.0.0.{i}"), 1, 0))
            .collect();
        history.record(0, &quiet);
        let mut busy = quiet.clone();
        busy.push(activity("203.0.113.99", 50, 1_000_000));
        busy.push(activity("203.0.113.98", 0, 1));
        history.record(10, &busy);
        let view = history.view();
        assert_eq!(view.series.len(), MAX_SERIES);
        assert!(view.series.iter().any(|s| s.egress_ip == "203.0.113.99"));
        // Not busier than the quietest kept series (weight 2): no room.
        assert!(!view.series.iter().any(|s| s.egress_ip == "203.0.113.98"));
        assert!(view.series.iter().all(|s| s.samples.len() <= 2));
    }
}
